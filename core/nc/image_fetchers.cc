#include "core/nc/image_fetchers.h"

namespace euca::nc {
namespace {

class WalrusImageFetcher final : public ImageFetcher {
 public:
  explicit WalrusImageFetcher(walrus::ImageSource& source) : source_(source) {}
  Result<std::string> Digest(const ImageRef& ref) override { return source_.Etag(ref.location); }
  Status Fetch(const ImageRef& ref, const std::string& destination) override {
    return source_.Fetch(ref.location, destination).status();
  }

 private:
  walrus::ImageSource& source_;
};

class DispatchingFetcher final : public ImageFetcher {
 public:
  DispatchingFetcher(ImageFetcher& local, ImageFetcher* walrus) : local_(local), walrus_(walrus) {}
  Result<std::string> Digest(const ImageRef& ref) override {
    EUCA_ASSIGN_OR_RETURN(ImageFetcher * f, Pick(ref));
    return f->Digest(ref);
  }
  Status Fetch(const ImageRef& ref, const std::string& destination) override {
    EUCA_ASSIGN_OR_RETURN(ImageFetcher * f, Pick(ref));
    return f->Fetch(ref, destination);
  }

 private:
  Result<ImageFetcher*> Pick(const ImageRef& ref) {
    if (ref.location.rfind("file://", 0) == 0) return &local_;
    if (walrus_ == nullptr) {
      return InvalidArgument("image '" + ref.id + "' is in Walrus ('" + ref.location +
                             "') but this node controller has no Walrus URL (--walrus-url)");
    }
    return walrus_;
  }

  ImageFetcher& local_;
  ImageFetcher* walrus_;
};

}  // namespace

std::unique_ptr<ImageFetcher> NewWalrusImageFetcher(walrus::ImageSource& source) {
  return std::make_unique<WalrusImageFetcher>(source);
}

std::unique_ptr<ImageFetcher> NewImageFetcher(ImageFetcher& local, ImageFetcher* walrus) {
  return std::make_unique<DispatchingFetcher>(local, walrus);
}

}  // namespace euca::nc
