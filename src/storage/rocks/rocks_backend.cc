#include "storage/rocks/rocks_backend.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/optimistic_transaction_db.h>
#include <rocksdb/utilities/transaction.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "storage/document_patch.h"
#include "storage/key_encoding.h"

namespace sluice::storage {
namespace {

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormatVersion = "1";

std::string_view view(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }
rocksdb::Slice slice(std::string_view text) { return {text.data(), text.size()}; }

Status from_rocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return {};
  std::string message = fmt::format("{}: {}", what, status.ToString());
  if (status.IsNoSpace()) return resource_exhausted(std::move(message));
  if (status.IsCorruption()) return corruption(std::move(message));
  if (status.IsIOError()) return io_error(std::move(message));
  if (status.IsBusy() || status.IsTryAgain()) return unavailable(std::move(message));
  return internal_error(std::move(message));
}

// Counters: 8 little-endian bytes, summed.
class CounterAddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    if (value.size() != 8 || (existing != nullptr && existing->size() != 8)) return false;
    const std::int64_t base = existing == nullptr ? 0 : decode_counter(view(*existing));
    *new_value = encode_counter(
        static_cast<std::int64_t>(static_cast<std::uint64_t>(base) +
                                  static_cast<std::uint64_t>(decode_counter(view(value)))));
    return true;
  }
  const char* Name() const override { return "sluice.counter_add"; }
};

// Documents: operands are encoded DocumentPatches applied in order.
class DocumentPatchOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& input, MergeOperationOutput* output) const override {
    std::vector<std::string_view> patches;
    patches.reserve(input.operand_list.size());
    for (const auto& operand : input.operand_list) patches.push_back(view(operand));
    auto merged = apply_patches(
        input.existing_value == nullptr ? std::string_view() : view(*input.existing_value),
        patches);
    if (!merged.ok()) return false;  // surfaces to readers as a Corruption status
    output->new_value = std::move(merged).value();
    return true;
  }
  // Operands stacked on one document (a stream's stats, between compactions) become one, so
  // that a read or a compaction parses one patch rather than thousands.
  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger*) const override {
    new_value->assign("[]");
    for (const auto& operand : operands) {
      if (!append_encoded_patch(*new_value, view(operand))) return false;
    }
    return true;
  }
  const char* Name() const override { return "sluice.document_patch"; }
};

// The key up to and including its `parts`-th separator: the queue's name, a document's container
// and partition key. Keys outside that shape are out of its domain.
class LeadingKeyParts final : public rocksdb::SliceTransform {
 public:
  explicit LeadingKeyParts(int parts) : parts_(parts) {}
  const char* Name() const override { return "sluice.leading_key_parts"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), prefix_size(key)};
  }
  bool InDomain(const rocksdb::Slice& key) const override { return prefix_size(key) > 0; }

 private:
  std::size_t prefix_size(const rocksdb::Slice& key) const {
    int seen = 0;
    for (std::size_t i = 0; i < key.size(); ++i) {
      if (key[i] == kKeySeparator && ++seen == parts_) return i + 1;
    }
    return 0;
  }
  const int parts_;
};

rocksdb::ColumnFamilyOptions table_options(Table table,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = 32 << 20;
  // No flushed memtables kept for the conflict checks of conditional commits (RocksDB would keep
  // several per family): a check that cannot tell is tried again (apply_conditional()).
  options.max_write_buffer_size_to_maintain = 1;
  rocksdb::BlockBasedTableOptions block;
  block.block_cache = cache;
  // Point lookups (idempotency checks, documents) mostly miss or hit one key: a Bloom filter
  // keeps a miss off the disk.
  if (table == Table::kIdempotency || table == Table::kDocuments || table == Table::kCounters ||
      table == Table::kInstances) {
    block.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(block));
  if (table == Table::kQueue || table == Table::kDocuments) {
    // Within a queue, or a document container's partition, keys mostly arrive in order (queue
    // sequence numbers, events-by-time entries) or repeat (a stream's stats): the memtable keeps
    // the last insert position per prefix and starts the next skip-list search there.
    options.memtable_insert_with_hint_prefix_extractor =
        std::make_shared<LeadingKeyParts>(table == Table::kQueue ? 1 : 2);
  }
  if (table == Table::kIdempotency || table == Table::kInstances) {
    // Every event looks up ids that are not there yet (a duplicate check at ingest, an existing
    // instance and a stats marker when it is processed): a Bloom filter over the memtable's keys
    // answers those without a skip-list search.
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = 0.05;
  }
  if (table == Table::kCounters) options.merge_operator = std::make_shared<CounterAddOperator>();
  if (table == Table::kDocuments) {
    options.merge_operator = std::make_shared<DocumentPatchOperator>();
  }
  return options;
}

}  // namespace

Result<std::unique_ptr<RocksBackend>> RocksBackend::open(const std::string& directory,
                                                         std::uint64_t min_free_bytes,
                                                         rocksdb::Env* env) {
  auto cache = rocksdb::NewLRUCache(64 << 20);
  rocksdb::DBOptions options;
  if (env != nullptr) options.env = env;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  // Flushes and compactions run at the lowest CPU priority: on a small machine they otherwise
  // take a core from the request path in bursts, which shows as tail latency. They catch up when
  // the foreground pauses, and RocksDB's write stalls bound how far behind they can fall.
  for (auto pool : {rocksdb::Env::Priority::HIGH, rocksdb::Env::Priority::LOW}) {
    rocksdb::Env::Default()
        ->LowerThreadPoolCPUPriority(pool, rocksdb::CpuPriority::kLow)
        .PermitUncheckedError();
  }
  options.bytes_per_sync = 1 << 20;
  // Freeing a file's blocks can hold the disk: on ext4 mounted with `discard`, unlinking a
  // 256 MiB file held a concurrent 4 KiB append-and-fdatasync for 210-255 ms in all; releasing
  // it 1 MiB at a time at 256 MiB/s, for 0-41 ms. So obsolete log and table files are moved
  // aside and truncated at that pace in the background (well above what the server writes). The
  // pace holds however large the trash grows against the data (RocksDB would otherwise delete at
  // once past a quarter of it). Trash left by a crash is released the same way after an open.
  constexpr std::int64_t kReleaseBytesPerSecond = 256 << 20;
  constexpr std::uint64_t kReleaseChunkBytes = 1 << 20;
  constexpr double kNoTrashLimit = 1e9;
  rocksdb::Status file_manager_status;
  options.sst_file_manager.reset(rocksdb::NewSstFileManager(
      rocksdb::Env::Default(), /*info_log=*/nullptr, /*trash_dir=*/"", kReleaseBytesPerSecond,
      /*delete_existing_trash=*/true, &file_manager_status, kNoTrashLimit, kReleaseChunkBytes));
  SLUICE_RETURN_IF_ERROR(from_rocks(file_manager_status, "cannot set up file deletion"));
  options.keep_log_file_num = 3;
  options.max_log_file_size = 8 << 20;
  // Write-ahead log kept for column families that rarely flush is bounded: past this, RocksDB
  // flushes them so old log files can go (otherwise the log alone can outgrow the data).
  options.max_total_wal_size = 128 << 20;
  // All column families share one memory budget for unflushed writes.
  options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(128 << 20, cache);

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (Table table : kAllTables) {
    families.emplace_back(std::string(table_name(table)), table_options(table, cache));
  }

  std::unique_ptr<RocksBackend> backend(new RocksBackend());
  backend->directory_ = directory;
  backend->min_free_bytes_ = min_free_bytes;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::OptimisticTransactionDB* db = nullptr;
  // Serial validation: a conditional commit's check runs in the write path, so that no write,
  // transactional or not, lands between its check and its write.
  rocksdb::OptimisticTransactionDBOptions validation;
  validation.validate_policy = rocksdb::OccValidationPolicy::kValidateSerial;
  SLUICE_RETURN_IF_ERROR(from_rocks(rocksdb::OptimisticTransactionDB::Open(
                                        options, validation, directory, families, &handles, &db),
                                    fmt::format("cannot open {}", directory)));
  backend->db_.reset(db);
  // handles[0] is the default family, which sluice does not use but RocksDB requires.
  backend->handles_.assign(handles.begin() + 1, handles.end());
  db->DestroyColumnFamilyHandle(handles[0]);

  SLUICE_ASSIGN_OR_RETURN(auto format, backend->get(Table::kMeta, kFormatKey));
  if (!format) {
    Mutation mark;
    mark.put(Table::kMeta, kFormatKey, kFormatVersion);
    SLUICE_RETURN_IF_ERROR(backend->commit(mark));
  } else if (*format != kFormatVersion) {
    return failed_precondition(fmt::format("{} holds sluice data format {}; this build reads {}",
                                           directory, *format, kFormatVersion));
  }
  return backend;
}

RocksBackend::~RocksBackend() {
  if (!db_) return;
  for (auto* family : handles_) db_->DestroyColumnFamilyHandle(family);
  // Close flushes nothing that matters for durability (every commit synced its WAL); it waits
  // for background work so the next open starts clean.
  db_->Close().PermitUncheckedError();
}

Status RocksBackend::check_free_space() {
  if (min_free_bytes_ == 0) return {};
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  if (now < free_space_known_until_.load(std::memory_order_relaxed)) return {};
  struct statvfs stats;
  if (::statvfs(directory_.c_str(), &stats) != 0) return {};  // unknown: let RocksDB decide
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(stats.f_bavail) * stats.f_frsize;
  if (free_bytes >= min_free_bytes_) {
    // Room above the reserve lasts at least as long as it takes to write it at a rate well above
    // what the server writes; look again after that, and at least every 100 ms. (Asking on every
    // commit cost a system call with a path lookup per commit: about 1 % of the server's CPU.)
    constexpr std::int64_t kFastestFillBytesPerSecond = 256 << 20;
    constexpr std::int64_t kLongestTrustMicros = 100'000;
    const auto margin = static_cast<std::int64_t>(
        std::min<std::uint64_t>(free_bytes - min_free_bytes_, std::uint64_t{1} << 40));
    free_space_known_until_.store(
        now + std::min(kLongestTrustMicros, margin * 1'000'000 / kFastestFillBytesPerSecond),
        std::memory_order_relaxed);
    return {};
  }
  return resource_exhausted(
      fmt::format("storage: {} MiB free on the data disk, below the {} MiB kept in reserve "
                  "(storage.min_free_mb); try again later",
                  free_bytes >> 20, min_free_bytes_ >> 20));
}

Result<std::uint64_t> RocksBackend::apply(const Mutation& mutation) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  SLUICE_RETURN_IF_ERROR(check_free_space());
  if (mutation.conditional()) return apply_conditional(mutation);
  rocksdb::WriteBatch batch(mutation.byte_size() + 24 * mutation.operations().size());
  for (const auto& operation : mutation.operations()) {
    auto* family = handle(operation.table);
    rocksdb::Status status;
    switch (operation.kind) {
      case Mutation::Kind::kPut:
        status = batch.Put(family, slice(operation.key), slice(operation.value));
        break;
      case Mutation::Kind::kErase:
        status = batch.Delete(family, slice(operation.key));
        break;
      case Mutation::Kind::kAdd:
      case Mutation::Kind::kPatch:
        status = batch.Merge(family, slice(operation.key), slice(operation.value));
        break;
      case Mutation::Kind::kInsert:
      case Mutation::Kind::kExpect:
        SLUICE_CHECK(false);  // conditional: not here
    }
    SLUICE_RETURN_IF_ERROR(from_rocks(status, "building a commit"));
  }
  SLUICE_RETURN_IF_ERROR(from_rocks(db_->Write(rocksdb::WriteOptions(), &batch), "commit"));
  return writes_.fetch_add(1) + 1;
}

Result<std::uint64_t> RocksBackend::apply_conditional(const Mutation& mutation) {
  // Tried again when a write since its reads touched a key it read (it may hold now what the
  // condition wants no longer, or still), or when RocksDB kept too little to tell.
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::unique_ptr<rocksdb::Transaction> transaction(
        db_->BeginTransaction(rocksdb::WriteOptions()));
    for (const auto& operation : mutation.operations()) {
      auto* family = handle(operation.table);
      rocksdb::Status status;
      std::optional<std::string> holds;  // the key's value, for a condition
      if (operation.kind == Mutation::Kind::kInsert || operation.kind == Mutation::Kind::kExpect) {
        std::string value;
        // Sees what the transaction wrote before it, and records the read for the check.
        status =
            transaction->GetForUpdate(rocksdb::ReadOptions(), family, slice(operation.key), &value);
        if (!status.ok() && !status.IsNotFound()) {
          return from_rocks(status, "reading what a commit's condition is on");
        }
        if (status.ok()) holds = std::move(value);
        status = rocksdb::Status::OK();
      }
      switch (operation.kind) {
        case Mutation::Kind::kExpect:
          if (holds != operation.value) {
            return failed_precondition("a value the commit expects has changed");
          }
          break;
        case Mutation::Kind::kInsert:
          if (holds) return already_exists("a key the commit inserts holds a value already");
          status = transaction->Put(family, slice(operation.key), slice(operation.value));
          break;
        case Mutation::Kind::kPut:
          status = transaction->Put(family, slice(operation.key), slice(operation.value));
          break;
        case Mutation::Kind::kErase:
          status = transaction->Delete(family, slice(operation.key));
          break;
        case Mutation::Kind::kAdd:
        case Mutation::Kind::kPatch:
          status = transaction->Merge(family, slice(operation.key), slice(operation.value));
          break;
      }
      SLUICE_RETURN_IF_ERROR(from_rocks(status, "building a commit"));
    }
    const rocksdb::Status committed = transaction->Commit();
    if (committed.IsBusy() || committed.IsTryAgain()) continue;
    SLUICE_RETURN_IF_ERROR(from_rocks(committed, "commit"));
    return writes_.fetch_add(1) + 1;
  }
  return unavailable("storage: a conditional commit kept meeting concurrent writes; try again");
}

Status RocksBackend::wait_durable(std::uint64_t ticket) {
  std::unique_lock lock(sync_mutex_);
  while (synced_ < ticket && sync_failure_.ok()) {
    if (syncing_) {
      sync_done_.wait(lock);
      continue;
    }
    syncing_ = true;
    // Every write counted here has returned, so its record is in the log file this sync covers.
    const std::uint64_t covered = writes_.load();
    lock.unlock();
    const Status synced = from_rocks(db_->SyncWAL(), "syncing the write-ahead log");
    lock.lock();
    syncing_ = false;
    if (synced.ok()) {
      synced_ = std::max(synced_, covered);
    } else {
      sync_failure_ = Status(synced.code(), synced.message() +
                                                "; nothing more is read or written until the "
                                                "server restarts and recovers what the disk kept");
      failed_.store(true, std::memory_order_release);
    }
    sync_done_.notify_all();
  }
  return synced_ >= ticket ? Status() : sync_failure_;
}

Status RocksBackend::failure() {
  std::lock_guard lock(sync_mutex_);
  return sync_failure_;
}

Result<std::optional<std::string>> RocksBackend::get(Table table, std::string_view key) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handle(table), slice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  SLUICE_RETURN_IF_ERROR(from_rocks(status, fmt::format("reading {}", table_name(table))));
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::optional<std::string>>> RocksBackend::get_many(
    Table table, std::span<const std::string> keys) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& key : keys) slices.push_back(slice(key));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handle(table), keys.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<std::optional<std::string>> found(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    SLUICE_RETURN_IF_ERROR(from_rocks(statuses[i], fmt::format("reading {}", table_name(table))));
    found[i].emplace(values[i].data(), values[i].size());
  }
  return found;
}

Result<std::vector<Entry>> RocksBackend::scan(Table table, const ScanOptions& options) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  // Bounds keep the iterator inside the prefix, so it never wades through another prefix's
  // deleted keys.
  std::string upper = options.prefix;
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty()) upper.back() = static_cast<char>(upper.back() + 1);
  rocksdb::Slice lower_bound = slice(options.prefix);
  rocksdb::Slice upper_bound = slice(upper);

  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower_bound;
  if (!upper.empty()) read.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, handle(table)));

  if (!options.reverse) {
    if (options.after) {
      it->Seek(slice(*options.after));
      if (it->Valid() && view(it->key()) == *options.after) it->Next();
    } else {
      it->SeekToFirst();
    }
  } else {
    if (options.after) {
      it->SeekForPrev(slice(*options.after));
      if (it->Valid() && view(it->key()) == *options.after) it->Prev();
    } else {
      it->SeekToLast();
    }
  }

  std::vector<Entry> entries;
  while (it->Valid() && entries.size() < options.limit) {
    const std::string_view key = view(it->key());
    if (!key.starts_with(options.prefix)) break;
    entries.push_back({std::string(key), std::string(view(it->value()))});
    if (options.reverse) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  SLUICE_RETURN_IF_ERROR(from_rocks(it->status(), fmt::format("scanning {}", table_name(table))));
  return entries;
}

}  // namespace sluice::storage
