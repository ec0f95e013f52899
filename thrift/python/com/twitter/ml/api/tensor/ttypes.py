"""The types of tensor.thrift: GeneralTensor, RawTypedTensor, DataType, SparseTensor, ..."""

from twml_common import idl

globals().update(idl.types_of(idl.tensor))
__all__ = sorted(idl.types_of(idl.tensor))
