#pragma once
// The node's ImageFetchers beyond the local file one (image_cache.h): images from Walrus'
// image delivery, and the dispatcher that picks by location.

#include <memory>

#include "core/nc/image_cache.h"
#include "core/walrus/image_client.h"

namespace euca::nc {

/// "BUCKET/KEY" locations through Walrus image delivery; the digest is the image's ETag
/// there, which changes when the manifest is overwritten. `source` must outlive it.
std::unique_ptr<ImageFetcher> NewWalrusImageFetcher(walrus::ImageSource& source);

/// `file://` locations go to `local`, everything else to `walrus` (which may be null: then
/// such locations are refused with InvalidArgument naming the setting). Both must outlive it.
std::unique_ptr<ImageFetcher> NewImageFetcher(ImageFetcher& local, ImageFetcher* walrus);

}  // namespace euca::nc
