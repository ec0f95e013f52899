// The one walk over a serialized DataRecord that both decoders share: it checks every field's
// id, container and element types and lengths (reference §2.6) and hands each entry to a
// visitor, which decides what to keep. DataRecord::Decode and HashedDataRecord::Decode are two
// such visitors.
#ifndef TWML_DATA_RECORD_PARSER_H_
#define TWML_DATA_RECORD_PARSER_H_

#include <string>
#include <string_view>

#include "twml/data_record.h"
#include "twml/tensor.h"
#include "twml/thrift.h"

namespace twml {

// Visitor: an object with these methods, called in wire order:
//   Binary(int64_t id)                      Continuous(int64_t id, double value)
//   Discrete(int64_t id, int64_t value)     String(int64_t id, std::string_view value)
//   SparseBinary(int64_t id, std::string_view name)          (once per name)
//   SparseContinuous(int64_t id, std::string_view name, double value, size_t name_offset)
//   Blob(int64_t id, std::string_view value)
//   Tensor(int64_t id, RawTensor tensor)    SparseTensor(int64_t id, RawSparseTensor tensor)
// Unknown field ids and type mismatches throw twml::Error (kThrift) naming field and offset.
//
// Zero bytes are an empty record, as the original decodes b"". (A record nested in a struct
// whose bytes end before it reads as empty too; the enclosing struct then fails on its own
// missing bytes, so truncated input is still an error.)
template <typename Visitor>
void ParseDataRecord(ThriftReader* reader, Visitor* visitor) {
  if (reader->remaining() == 0) return;
  for (;;) {
    const size_t field_offset = reader->offset();
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return;
    switch (header.id) {
      case kBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftSet, "binaryFeatures");
        const int32_t count = reader->ReadSetHeader(kThriftI64, "binaryFeatures");
        for (int32_t i = 0; i < count; ++i) visitor->Binary(reader->ReadI64());
        break;
      }
      case kContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "continuousFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftDouble, "continuousFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->Continuous(id, reader->ReadDouble());
        }
        break;
      }
      case kDiscreteFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "discreteFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftI64, "discreteFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->Discrete(id, reader->ReadI64());
        }
        break;
      }
      case kStringFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "stringFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "stringFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->String(id, reader->ReadString());
        }
        break;
      }
      case kSparseBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseBinaryFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftSet, "sparseBinaryFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const int32_t names = reader->ReadSetHeader(kThriftString, "sparseBinaryFeatures value");
          for (int32_t j = 0; j < names; ++j) visitor->SparseBinary(id, reader->ReadString());
        }
        break;
      }
      case kSparseContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseContinuousFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftMap, "sparseContinuousFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const int32_t names =
              reader->ReadMapHeader(kThriftString, kThriftDouble, "sparseContinuousFeatures value");
          for (int32_t j = 0; j < names; ++j) {
            const size_t name_offset = reader->offset();
            const std::string_view name = reader->ReadString();
            visitor->SparseContinuous(id, name, reader->ReadDouble(), name_offset);
          }
        }
        break;
      }
      case kBlobFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "blobFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "blobFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->Blob(id, reader->ReadString());
        }
        break;
      }
      case kTensors: {
        reader->ExpectFieldType(header, kThriftMap, "tensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "tensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->Tensor(id, DecodeGeneralTensor(reader));
        }
        break;
      }
      case kSparseTensors: {
        reader->ExpectFieldType(header, kThriftMap, "sparseTensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "sparseTensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          visitor->SparseTensor(id, DecodeSparseTensor(reader));
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

#endif  // TWML_DATA_RECORD_PARSER_H_
