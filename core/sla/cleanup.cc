#include "core/sla/cleanup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/api/digest.h"
#include "core/clc/capacity_reservations.h"
#include "core/clc/networking.h"
#include "core/clc/properties.h"
#include "core/sla/store.h"

namespace euca::sla {
namespace {

constexpr char kImages[] = "images";
constexpr char kManifestSuffix[] = ".manifest.xml";

constexpr char kDeletedBundles[] = "deleted-bundles";

bool EndsWithManifest(const std::string& key) {
  const size_t n = strlen(kManifestSuffix);
  return key.size() > n && key.compare(key.size() - n, n, kManifestSuffix) == 0;
}

std::string Plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

Result<int64_t> GraceMs(state::Txn& t) {
  EUCA_ASSIGN_OR_RETURN(const clc::PropertyDef* def, clc::FindProperty(kStorageGraceProperty));
  std::string value = def->default_value;
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get("properties", kStorageGraceProperty));
  if (obj) value = obj->body.value("value", value);
  EUCA_ASSIGN_OR_RETURN(auto d, clc::ParseDuration(value));
  return d ? *d * 1000 : INT64_MAX;  // "none": expired images are kept
}

state::Object ImageObject(const model::Image& i) {
  return state::Object{kImages, i.id, i.account_id, i.state == "deregistered" ? std::string() : i.name,
                       model::ToJson(i), std::nullopt};
}

// Changes the image `id` from `from` to `to` as the cleanup, unless someone changed it since
// it was read with the lease `lease_ms` (a renew-lease meanwhile wins): Conflict then.
Status SetImageState(state::StateStore& store, const std::string& id, const std::string& from, const std::string& to,
                     int64_t lease_ms, const std::string& action) {
  return store
      .Transact({kCleanupPrincipal, action + " " + id, ""},
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kImages, id));
                  if (!obj) return NotFound("image '" + id + "' is gone");
                  model::Image i = model::ImageFromJson(obj->body);
                  if (i.state != from) return Status(Code::kConflict, "image '" + id + "' is " + i.state + " now");
                  if (i.lease_expires_ms != lease_ms)
                    return Status(Code::kConflict, "the lease of image '" + id + "' was renewed meanwhile");
                  i.state = to;
                  return t.Put(ImageObject(i));
                })
      .status();
}

// A change the owner made meanwhile (the image is not due any more): nothing to report.
bool ChangedMeanwhile(const Status& s) { return s.code() == Code::kConflict || s.code() == Code::kNotFound; }

// Deletes the bundle whose manifest is at `location` (BUCKET/KEY; the manifest and the parts
// beside it) as the account `account_id` (named `owner_name`).
Status DeleteBundle(const std::string& location, const std::string& account_id, const std::string& owner_name,
                    const clc::ObjectStoreFactory& objects) {
  if (!objects) return Unavailable("no object store is configured to delete bundles from");
  const std::string& loc = location;
  auto slash = loc.find('/');
  if (slash == std::string::npos) return InvalidArgument("image location '" + loc + "' has no bucket");
  const std::string bucket = loc.substr(0, slash), key = loc.substr(slash + 1);
  std::string prefix = key;
  if (EndsWithManifest(prefix)) prefix.resize(prefix.size() - strlen(kManifestSuffix));
  model::Principal owner{owner_name, account_id, model::kAccountAdminUser, ""};
  EUCA_ASSIGN_OR_RETURN(auto store, objects(owner));
  auto parts = store->ListObjects(bucket, prefix + ".part.");
  if (!parts.ok() && parts.status().code() != Code::kNotFound) return parts.status().WithContext("list '" + loc + "'");
  if (parts.ok())
    for (const auto& p : *parts) {
      Status s = store->DeleteObject(bucket, p.key);
      if (!s.ok() && s.code() != Code::kNotFound) return s.WithContext("delete '" + bucket + "/" + p.key + "'");
    }
  Status s = store->DeleteObject(bucket, key);
  if (!s.ok() && s.code() != Code::kNotFound) return s.WithContext("delete '" + loc + "'");
  return Status::Ok();
}

// The history of a deleted unregistered bundle: a `deleted-bundles` record, one commit
// "DeleteBundle BUCKET/KEY" by the cleanup.
Status RecordDeletedBundle(state::StateStore& store, const std::string& location, const std::string& account_id,
                           int64_t lease_ended_ms, int64_t now) {
  Json body = {{"location", location}, {"account", account_id}, {"lease_expires", lease_ended_ms},
               {"deleted", now}};
  return store
      .Transact({kCleanupPrincipal, "DeleteBundle " + location, ""},
                [&](state::Txn& t) {
                  return t.Put({kDeletedBundles, api::Sha256Hex(location), account_id, "", body, std::nullopt});
                })
      .status();
}

// An account whose bundles have a storage lease (docs/sla.md).
struct LeasedAccount {
  std::string id, name;
  int64_t storage_s = 0;
};

// The bundles of `account` that no image is registered from and whose storage lease (from
// their manifest's upload) and grace ended by `now`: their manifests' BUCKET/KEY with the
// lease's end.
Result<std::vector<std::pair<std::string, int64_t>>> UnregisteredBundlesDue(const LeasedAccount& account,
                                                                            const std::set<std::string>& registered,
                                                                            const clc::ObjectStoreFactory& objects,
                                                                            int64_t now, int64_t grace_ms) {
  std::vector<std::pair<std::string, int64_t>> out;
  model::Principal owner{account.name, account.id, model::kAccountAdminUser, ""};
  EUCA_ASSIGN_OR_RETURN(auto store, objects(owner));
  EUCA_ASSIGN_OR_RETURN(auto buckets, store->ListBuckets());
  for (const auto& bucket : buckets) {
    auto listed = store->ListObjects(bucket, "");
    if (!listed.ok() && listed.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    if (!listed.ok()) return listed.status().WithContext("list bucket '" + bucket + "'");
    for (const auto& o : *listed) {
      if (!EndsWithManifest(o.key) || registered.count(bucket + "/" + o.key)) continue;
      const int64_t ends = o.last_modified_ms + account.storage_s * 1000;
      if (o.last_modified_ms > 0 && ends <= now && now - ends >= grace_ms) out.emplace_back(bucket + "/" + o.key, ends);
    }
  }
  return out;
}

}  // namespace

int CleanupReport::Failed() const {
  int n = 0;
  for (const auto& a : actions) n += !a.result.ok();
  return n;
}

std::string CleanupReport::Summary() const {
  if (actions.empty()) return dry_run ? "cleanup (dry run): nothing to do" : "cleanup: nothing to do";
  int terminate = 0, expire = 0, del = 0, release = 0, reservations = 0, bundles = 0;
  for (const auto& a : actions) {
    if (!a.result.ok()) continue;
    terminate += a.action == "terminate";
    expire += a.action == "expire-image";
    del += a.action == "delete-image";
    release += a.action == "release-address";
    reservations += a.action == "expire-reservation";
    bundles += a.action == "delete-bundle";
  }
  // Counts that are new since the first summary appear only when non-zero (scripts match it).
  auto extra = [&](const char* release_verb, const char* expire_verb) {
    std::string out;
    if (bundles) out += std::string(", ") + (dry_run ? "delete " : "deleted ") + Plural(bundles, "bundle", "bundles");
    if (release) out += std::string(", ") + release_verb + " " + Plural(release, "address", "addresses");
    if (reservations)
      out += std::string(", ") + expire_verb + " " + Plural(reservations, "reservation", "reservations");
    return out;
  };
  if (dry_run)
    return "cleanup (dry run): would terminate " + Plural(terminate, "instance", "instances") + ", expire " +
           Plural(expire, "image", "images") + ", delete " + Plural(del, "image", "images") +
           extra("release", "expire");
  return "cleanup: terminated " + Plural(terminate, "instance", "instances") + ", expired " +
         Plural(expire, "image", "images") + ", deleted " + Plural(del, "image", "images") +
         extra("released", "expired") + ", " + std::to_string(Failed()) + " failed";
}

Result<CleanupReport> RunCleanup(state::StateStore& store, Clock& clock, clc::Compute* compute,
                                 const clc::ObjectStoreFactory& objects, const CleanupOptions& options,
                                 clc::Addresses* addresses) {
  const int64_t now = options.now_ms ? options.now_ms : clock.NowMillis();
  CleanupReport report;
  report.dry_run = options.dry_run;

  std::vector<Rule> rules;
  std::vector<model::Instance> instances;
  std::vector<model::Image> images;
  std::vector<model::Address> leased_addresses;  // allocated ones whose lease ended
  std::map<std::string, std::string> accounts, users;  // id -> name
  std::vector<LeasedAccount> leased;                   // accounts with a storage lease
  int64_t grace_ms = 0;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(rules, ListRules(t));
    EUCA_ASSIGN_OR_RETURN(grace_ms, GraceMs(t));
    EUCA_ASSIGN_OR_RETURN(auto objs, t.List("accounts"));
    for (const auto& o : objs) {
      accounts[o.id] = o.body.value("name", "");
      EUCA_ASSIGN_OR_RETURN(LeaseDefaults d, GetLeaseDefaults(t, o.id));
      if (d.storage_s) leased.push_back({o.id, accounts[o.id], *d.storage_s});
    }
    EUCA_ASSIGN_OR_RETURN(objs, t.List("users"));
    for (const auto& o : objs) users[o.id] = o.body.value("name", "");
    EUCA_ASSIGN_OR_RETURN(objs, t.List("instances"));
    try {
      for (const auto& o : objs) instances.push_back(model::InstanceFromJson(o.body));
      EUCA_ASSIGN_OR_RETURN(objs, t.List(kImages));
      for (const auto& o : objs) images.push_back(model::ImageFromJson(o.body));
      EUCA_ASSIGN_OR_RETURN(objs, t.List(clc::kAddressesKind));
      for (const auto& o : objs) {
        EUCA_ASSIGN_OR_RETURN(auto a, clc::EffectiveAddress(t, o));
        if (a && a->lease_expires_ms != 0 && a->lease_expires_ms <= now) leased_addresses.push_back(*a);
      }
    } catch (const std::exception& e) {
      return Internal(std::string("corrupt record: ") + e.what());
    }
    return Status::Ok();
  }));

  // 1. Instances: runtime leases and maximum runtimes.
  for (const auto& i : instances) {
    if (i.state == model::kTerminated || i.state == model::kShuttingDown) continue;
    std::string reason;
    if (i.lease_expires_ms != 0 && i.lease_expires_ms <= now) {
      reason = "runtime lease ended " + FormatIso8601(i.lease_expires_ms);
    } else {
      for (const auto& r : rules) {
        if (r.kind != kMaxRuntime) continue;
        if (!Matches(r.match, accounts[i.account_id], users[i.user_id], i.zone, i.vm_type)) continue;
        if (i.launch_time_ms + r.duration_s * 1000 <= now) {
          reason = "rule '" + r.name + "' limits the runtime to " + std::to_string(r.duration_s) + "s";
          break;
        }
      }
    }
    if (reason.empty()) continue;
    CleanupAction a{"terminate", i.id, i.account_id, reason, Status::Ok()};
    if (!options.dry_run) {
      if (!compute) {
        a.result = Unavailable("this cloud has no compute part to terminate instances with");
      } else {
        // Due only while its lease is the one read above: a renew-lease meanwhile wins.
        const int64_t lease = i.lease_expires_ms;
        auto done = compute->TerminateForSystem(kCleanupPrincipal, {i.id}, reason, [lease](const model::Instance& now) {
          return now.lease_expires_ms == lease;
        });
        if (!done.ok()) {
          a.result = done.status();
        } else if (done->empty() || done->front().current_state != model::kShuttingDown) {
          continue;  // gone, terminated or renewed meanwhile: nothing to do
        }
      }
    }
    report.actions.push_back(std::move(a));
  }

  // 2 and 3. Images: storage leases, then the grace period.
  for (auto i : images) {
    if (i.lease_expires_ms == 0) continue;
    if (i.state == "available" && i.lease_expires_ms <= now) {
      CleanupAction a{"expire-image", i.id, i.account_id, "storage lease ended " + FormatIso8601(i.lease_expires_ms),
                      Status::Ok()};
      if (!options.dry_run) {
        a.result = SetImageState(store, i.id, "available", "expired", i.lease_expires_ms, "ExpireImage");
        if (ChangedMeanwhile(a.result)) continue;
      }
      bool ok = a.result.ok();
      report.actions.push_back(std::move(a));
      if (!ok) continue;
      i.state = "expired";
    }
    if (i.state == "expired" && grace_ms != INT64_MAX && i.lease_expires_ms + grace_ms <= now) {
      CleanupAction a{"delete-image", i.id, i.account_id,
                      "storage lease ended " + FormatIso8601(i.lease_expires_ms) + " and its grace is over",
                      Status::Ok()};
      if (!options.dry_run) {
        // Deregistered first, so a renew-lease can no longer bring it back; the bundle after.
        // When the deletion fails, the image is expired again and the next run retries.
        a.result = SetImageState(store, i.id, "expired", "deregistered", i.lease_expires_ms, "DeregisterImage");
        if (ChangedMeanwhile(a.result)) continue;
        if (a.result.ok()) {
          a.result = DeleteBundle(i.location, i.account_id, accounts[i.account_id], objects);
          if (!a.result.ok()) {
            Status back =
                SetImageState(store, i.id, "deregistered", "expired", i.lease_expires_ms, "ExpireImage");
            if (!back.ok()) a.result = a.result.WithContext("and marking it expired again failed: " + back.message());
          }
        }
      }
      report.actions.push_back(std::move(a));
    }
  }

  // 3b. Bundles no image is registered from: their storage lease runs from the manifest's
  // upload; RegisterImage refuses them once it ended, so after the grace nobody can have
  // registered them since the snapshot.
  if (objects && grace_ms != INT64_MAX && !leased.empty()) {
    std::set<std::string> registered;
    for (const auto& i : images)
      if (i.state != "deregistered") registered.insert(i.location);
    for (const auto& account : leased) {
      auto due = UnregisteredBundlesDue(account, registered, objects, now, grace_ms);
      if (!due.ok()) {
        report.actions.push_back({"delete-bundle", account.name, account.id,
                                  "listing the account's bundles", due.status()});
        continue;
      }
      for (const auto& [location, ends] : *due) {
        CleanupAction a{"delete-bundle", location, account.id,
                        "storage lease of the unregistered bundle ended " + FormatIso8601(ends) +
                            " and its grace is over",
                        Status::Ok()};
        if (!options.dry_run) {
          a.result = DeleteBundle(location, account.id, account.name, objects);
          if (a.result.ok()) a.result = RecordDeletedBundle(store, location, account.id, ends, now);
        }
        report.actions.push_back(std::move(a));
      }
    }
  }

  // 4. Public addresses whose lease ended: disassociated, then released.
  for (const auto& addr : leased_addresses) {
    CleanupAction a{"release-address", addr.public_ip, addr.account_id,
                    "address lease ended " + FormatIso8601(addr.lease_expires_ms), Status::Ok()};
    if (!options.dry_run) {
      if (!addresses) {
        a.result = Unavailable("this cloud has no address part to release addresses with");
      } else {
        Status s = addresses->ReleaseExpired(kCleanupPrincipal, addr.public_ip, now);
        if (!s.ok() && s.code() != Code::kNotFound) a.result = s;  // released meanwhile: done
      }
    }
    report.actions.push_back(std::move(a));
  }

  // 5. Capacity reservations whose end date passed: expired, their room free.
  EUCA_ASSIGN_OR_RETURN(auto ended, clc::ExpiredCapacityReservations(store, now));
  for (const auto& r : ended) {
    CleanupAction a{"expire-reservation", r.id, r.account_id, "end date " + FormatIso8601(r.end_ms) + " passed",
                    Status::Ok()};
    if (!options.dry_run) {
      Status s = clc::ExpireCapacityReservation(store, kCleanupPrincipal, r.id, now);
      if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kConflict) a.result = s;  // changed meanwhile
    }
    report.actions.push_back(std::move(a));
  }
  return report;
}

Result<bool> CleanupLock::TryLock(const std::string& path) {
  if (fd_ >= 0) return Internal("the cleanup lock is already held by this object");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("open '" + path + "': " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return false;
    return Internal("flock '" + path + "': " + std::strerror(err));
  }
  fd_ = fd;
  return true;
}

CleanupLock::~CleanupLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace euca::sla
