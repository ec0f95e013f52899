#include "twml/hashed_data_record.h"

#include <cmath>
#include <limits>

#include "twml/data_record_parser.h"
#include "twml/hashing.h"
#include "twml/repeated_keys.h"

namespace twml {

void HashedDataRecord::Reset(const DecodeOptions& options) {
  entries.clear();
  tensors.clear();
  sparse_tensors.clear();
  // clear + resize: no call at all for the usual empty label and weight lists.
  labels.clear();
  labels.resize(options.labels.size(), std::numeric_limits<double>::quiet_NaN());
  weights.clear();
  weights.resize(options.weights.size(), 0.0);
}

namespace {

// Where a visitor's entries go: the record's own entries...
struct EntrySink {
  std::pmr::vector<HashedEntry>* entries;
  int64_t FeatureIdOf(std::string_view name) { return FeatureId(name, Utf8Decoding::kOriginal); }
  void Add(int64_t id, int64_t key, double value, int64_t code, uint8_t type) {
    entries->push_back({id, key, value, code, type});
  }
  size_t size() const { return entries->size(); }
  // The index of the entry at or after `begin` with this type and id (and key, when
  // `match_key`), or -1.
  int64_t Find(size_t begin, uint8_t type, int64_t id, int64_t key, bool match_key) const {
    for (size_t i = begin; i < entries->size(); ++i) {
      const HashedEntry& entry = (*entries)[i];
      if (entry.type == type && entry.id == id && (!match_key || entry.key == key)) {
        return static_cast<int64_t>(i);
      }
    }
    return -1;
  }
  void Set(int64_t index, int64_t key, double value) {
    (*entries)[static_cast<size_t>(index)].key = key;
    (*entries)[static_cast<size_t>(index)].value = value;
  }
};

// ... or a batch's columns (the code is the keep map's value of the id: not stored).
struct ColumnSink {
  HashedColumns* columns;
  int64_t FeatureIdOf(std::string_view name) { return columns->feature_ids.Get(name); }
  void Add(int64_t id, int64_t key, double value, int64_t /*code*/, uint8_t type) {
    columns->Append(id, key, value, type);
  }
  size_t size() const { return columns->size(); }
  int64_t Find(size_t begin, uint8_t type, int64_t id, int64_t key, bool match_key) const {
    return columns->Find(begin, type, id, key, match_key);
  }
  void Set(int64_t index, int64_t key, double value) { columns->Set(static_cast<size_t>(index), key, value); }
};

// Turns each kept entry into a hashed entry by the reference's rules (§2.6), each key once
// (repeated_keys.h): a repeated binary id or sparse binary name is dropped; a repeated
// continuous, discrete or string id, or sparse continuous name, keeps its last value (and key)
// in the place of its first.
template <typename Sink>
class HashedVisitor {
 public:
  HashedVisitor(HashedDataRecord* record, const ThriftReader& reader, const DecodeOptions& options, Sink sink)
      : record_(*record),
        reader_(reader),
        options_(options),
        keep_(options.keep),
        sink_(sink),
        record_begin_(sink.size()),
        seen_(ThreadRepeatFilter()) {
    seen_.NextRecord();
  }

  void Binary(int64_t id) {
    if (const int64_t* code = keep_.Find(id)) {
      if (Existing(kHashedBinary, id) < 0) Add(id, id, 1.0, *code, kHashedBinary);
    } else if (const int64_t* column = options_.labels.Find(id)) {
      record_.labels[*column] = 1.0;
    }
  }
  void Continuous(int64_t id, double value) {
    if (const int64_t* code = keep_.Find(id)) {
      if (!std::isnan(value)) Put(id, id, value, *code, kHashedContinuous);
    } else if (const int64_t* column = options_.labels.Find(id)) {
      record_.labels[*column] = value;
    } else if (const int64_t* weight_column = options_.weights.Find(id)) {
      record_.weights[*weight_column] = value;
    }
  }
  void Discrete(int64_t id, int64_t value) {
    if (const int64_t* code = keep_.Find(id)) {
      Put(id, MixDiscreteIdAndValue(id, value), 1.0, *code, kHashedDiscrete);
    }
  }
  void String(int64_t id, std::string_view value) {
    if (const int64_t* code = keep_.Find(id)) {
      Put(id, MixStringIdAndValue(id, value), 1.0, *code, kHashedString);
    }
  }
  void SparseBinary(int64_t id, std::string_view name) {
    if (const int64_t* code = keep_.Find(id)) {
      const int64_t key = MixStringIdAndValue(id, name);
      if (ExistingName(kHashedSparseBinary, id, key) < 0) Add(id, key, 1.0, *code, kHashedSparseBinary);
    }
  }
  void SparseContinuous(int64_t id, std::string_view name, double value, size_t name_offset) {
    const int64_t* code = keep_.Find(id);
    if (!code) return;
    int64_t key;
    if (options_.decode_mode == 0) {
      // Hashed before the NaN check: the original rejects a name it cannot hash even when its
      // value is NaN.
      try {
        key = sink_.FeatureIdOf(name);
      } catch (const Error& error) {
        reader_.FailAt(name_offset, std::string("sparseContinuousFeatures name: ") + error.what());
      }
    } else {
      key = MixStringIdAndValue(id, name);
    }
    if (std::isnan(value)) return;
    const int64_t index = ExistingName(kHashedSparseContinuous, id, key);
    if (index >= 0) {
      sink_.Set(index, key, value);
    } else {
      Add(id, key, value, *code, kHashedSparseContinuous);
    }
  }
  void Blob(int64_t /*id*/, std::string_view /*value*/) {}  // never kept
  void Tensor(int64_t id, RawTensor tensor) { record_.tensors.push_back({id, std::move(tensor)}); }
  void SparseTensor(int64_t id, RawSparseTensor tensor) {
    record_.sparse_tensors.push_back({id, std::move(tensor)});
  }

 private:
  void Add(int64_t id, int64_t key, double value, int64_t code, uint8_t type) {
    sink_.Add(id, key, value, code, type);
  }
  // map[id] = (key, value).
  void Put(int64_t id, int64_t key, double value, int64_t code, uint8_t type) {
    const int64_t index = Existing(type, id);
    if (index >= 0) {
      sink_.Set(index, key, value);
    } else {
      Add(id, key, value, code, type);
    }
  }
  // The index of this record's entry of (type, id), or -1.
  int64_t Existing(uint8_t type, int64_t id) {
    if (!seen_.MaybeSeen(RepeatFilter::Key(type, id))) return -1;
    return sink_.Find(record_begin_, type, id, 0, false);
  }
  // The index of this record's sparse entry of (type, id, key), or -1: the key stands for the
  // name (a 64-bit hash of it).
  int64_t ExistingName(uint8_t type, int64_t id, int64_t key) {
    if (!seen_.MaybeSeen(RepeatFilter::Key(type, id, key))) return -1;
    return sink_.Find(record_begin_, type, id, key, true);
  }

  HashedDataRecord& record_;
  const ThriftReader& reader_;
  const DecodeOptions& options_;
  const IdMap& keep_;
  Sink sink_;
  size_t record_begin_;  // where this record's entries start in the sink
  RepeatFilter& seen_;
};

}  // namespace

void HashedDataRecord::Decode(ThriftReader* reader, const DecodeOptions& options) {
  Reset(options);
  // One allocation for a typical record: an entry takes at least ~10 wire bytes.
  entries.reserve(reader->remaining() / 10);
  HashedVisitor<EntrySink> visitor(this, *reader, options, EntrySink{&entries});
  ParseDataRecord(reader, &visitor);
}

void HashedDataRecord::Decode(ThriftReader* reader, const DecodeOptions& options, HashedColumns* columns) {
  Reset(options);
  // Every entry takes at least 4 wire bytes (a sparse binary name: its length), so this is
  // enough room for the whole record and Append needs no check.
  columns->Reserve(reader->remaining() / 4);
  HashedVisitor<ColumnSink> visitor(this, *reader, options, ColumnSink{columns});
  ParseDataRecord(reader, &visitor);
}

}  // namespace twml
