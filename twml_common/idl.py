"""The Thrift IDL of thrift/, loaded at run time with thriftpy2.

``data``, ``tensor`` and ``prediction_service`` are the loaded modules of data.thrift,
tensor.thrift and prediction_service.thrift. They come from a single load of
prediction_service.thrift, so a struct has one class wherever it is used (the DataRecord inside a
BatchPredictionRequest is ``data.DataRecord``).
"""

import os
import types
from typing import Dict

import thriftpy2

IDL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idl_files")

prediction_service = thriftpy2.load(
    os.path.join(IDL_DIR, "prediction_service.thrift"),
    module_name="prediction_service_thrift",
    include_dirs=[IDL_DIR],
)
data = prediction_service.data
tensor = data.tensor


def types_of(module: types.ModuleType) -> Dict[str, type]:
    """The structs, unions, exceptions, enums and services an IDL module defines.

    A loaded module holds its own types only; included IDL files are attributes of module type.
    """
    return {name: value for name, value in vars(module).items() if isinstance(value, type) and not name.startswith("_")}
