#include "twml/hashed_data_record.h"

#include <cmath>
#include <limits>

#include "twml/hashing.h"

namespace twml {

void HashedDataRecord::Reset(const DecodeOptions& options) {
  entries.clear();
  tensors.clear();
  sparse_tensors.clear();
  labels.assign(options.labels.size(), std::numeric_limits<double>::quiet_NaN());
  weights.assign(options.weights.size(), 0.0);
}

void HashedDataRecord::Decode(ThriftReader* reader, const DecodeOptions& options) {
  Reset(options);
  // One allocation for a typical record: an entry takes at least ~10 wire bytes.
  entries.reserve(reader->remaining() / 10);
  const IdMap& keep = options.keep;
  for (;;) {
    const size_t field_offset = reader->offset();
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return;
    switch (header.id) {
      case kBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftSet, "binaryFeatures");
        const int32_t count = reader->ReadSetHeader(kThriftI64, "binaryFeatures");
        entries.reserve(entries.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          if (const int64_t* code = keep.Find(id)) {
            Add(id, id, 1.0, *code, kHashedBinary);
          } else if (const int64_t* column = options.labels.Find(id)) {
            labels[*column] = 1.0;
          }
        }
        break;
      }
      case kContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "continuousFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftDouble, "continuousFeatures");
        entries.reserve(entries.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const double value = reader->ReadDouble();
          if (const int64_t* code = keep.Find(id)) {
            if (!std::isnan(value)) Add(id, id, value, *code, kHashedContinuous);
          } else if (const int64_t* column = options.labels.Find(id)) {
            labels[*column] = value;
          } else if (const int64_t* weight_column = options.weights.Find(id)) {
            weights[*weight_column] = value;
          }
        }
        break;
      }
      case kDiscreteFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "discreteFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftI64, "discreteFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const int64_t value = reader->ReadI64();
          if (const int64_t* code = keep.Find(id)) {
            Add(id, MixDiscreteIdAndValue(id, value), 1.0, *code, kHashedDiscrete);
          }
        }
        break;
      }
      case kStringFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "stringFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "stringFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const std::string_view value = reader->ReadString();
          if (const int64_t* code = keep.Find(id)) {
            Add(id, MixStringIdAndValue(id, value), 1.0, *code, kHashedString);
          }
        }
        break;
      }
      case kSparseBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseBinaryFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftSet, "sparseBinaryFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const int64_t* code = keep.Find(id);
          const int32_t names = reader->ReadSetHeader(kThriftString, "sparseBinaryFeatures value");
          for (int32_t j = 0; j < names; ++j) {
            const std::string_view name = reader->ReadString();
            if (code) Add(id, MixStringIdAndValue(id, name), 1.0, *code, kHashedSparseBinary);
          }
        }
        break;
      }
      case kSparseContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseContinuousFeatures");
        const int32_t count =
            reader->ReadMapHeader(kThriftI64, kThriftMap, "sparseContinuousFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const int64_t* code = keep.Find(id);
          const int32_t names = reader->ReadMapHeader(kThriftString, kThriftDouble,
                                                      "sparseContinuousFeatures value");
          for (int32_t j = 0; j < names; ++j) {
            const size_t name_offset = reader->offset();
            const std::string_view name = reader->ReadString();
            const double value = reader->ReadDouble();
            if (!code || std::isnan(value)) continue;
            int64_t key;
            if (options.decode_mode == 0) {
              try {
                key = FeatureId(name);
              } catch (const Error& error) {
                reader->FailAt(name_offset, std::string("sparseContinuousFeatures name: ") + error.what());
              }
            } else {
              key = MixStringIdAndValue(id, name);
            }
            Add(id, key, value, *code, kHashedSparseContinuous);
          }
        }
        break;
      }
      case kBlobFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "blobFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "blobFeatures");
        for (int32_t i = 0; i < count; ++i) {  // validated, never kept
          reader->ReadI64();
          reader->ReadString();
        }
        break;
      }
      case kTensors: {
        reader->ExpectFieldType(header, kThriftMap, "tensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "tensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          tensors.push_back({id, DecodeGeneralTensor(reader)});
        }
        break;
      }
      case kSparseTensors: {
        reader->ExpectFieldType(header, kThriftMap, "sparseTensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "sparseTensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          sparse_tensors.push_back({id, DecodeSparseTensor(reader)});
        }
        break;
      }
      default:
        reader->FailAt(field_offset, "DataRecord: unknown field id " + std::to_string(header.id) +
                                         " (" + ThriftTypeName(header.type) + ")");
    }
  }
}

}  // namespace twml
