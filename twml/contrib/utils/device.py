"""Local devices as TensorFlow sees them (``twml.contrib.utils.device``).

These call ``device_lib.list_local_devices()``, which initialises the TF runtime (and may claim
GPUs).
"""

from typing import Dict, List

from tensorflow.python.client import device_lib


def get_device_map() -> Dict[str, str]:
    """Device name (e.g. ``'/device:GPU:0'``) -> device type (``'CPU'``, ``'GPU'``, ...)."""
    return {device.name: device.device_type for device in device_lib.list_local_devices()}


def get_gpu_list() -> List[str]:
    """Names of the local GPU devices."""
    return [name for name, kind in get_device_map().items() if kind == "GPU"]


def get_gpu_count() -> int:
    """Number of local GPU devices."""
    return len(get_gpu_list())


def is_gpu_available() -> bool:
    """Whether TensorFlow sees at least one GPU."""
    return get_gpu_count() > 0
