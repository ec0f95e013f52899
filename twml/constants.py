"""twml.constants: the named values twml's ops and builders take.

The original re-exported these from a private package; the values follow the ops they configure
(reference §5.2, §5.6). The ZooKeeper constants of the original pointed at Twitter's internal
ZooKeeper; here they are plain defaults that a user may override before calling
``twml.dataset.zookeeper_ordered_dataset`` / ``cx_zk_path``.
"""

#: Hashed decoding of sparse-continuous value names (the decode ops' ``decode_mode`` attr):
#: the key is ``feature_id(name)`` ...
HASH_VALNAME = 0
#: ... or ``MixStringIdAndValue(feature id, name)``.
HASH_FNAME_AND_VALNAME = 1
DECODE_MODES = {"hash_valname": HASH_VALNAME, "hash_fname_and_valname": HASH_FNAME_AND_VALNAME}
DEFAULT_DECODE_MODE = HASH_VALNAME

#: ZooKeeper connection string of ``zookeeper_ordered_dataset`` (host:port[,host:port...]).
DEFAULT_ZOOKEEPER_HOST = "localhost:2181"
#: The znode under which ``cx_zk_path`` puts the shared file counters.
DEFAULT_ZOOKEEPER_BASE_ZNODE = "/twml"


class HashingDiscretizerOptions:
    """Bits of the HashingDiscretizer op's ``options`` attr: a search (bits 1:0) OR a hash (bits 4:2)."""

    SEARCH_LOWER_BOUND = 0  # bucket = number of boundaries < value
    SEARCH_LINEAR = 1  # the same bucket, by a linear scan
    SEARCH_UPPER_BOUND = 2  # bucket = number of boundaries <= value
    HASH_32BIT = 0
    HASH_64BIT = 4
    DEFAULT = SEARCH_LOWER_BOUND | HASH_32BIT


#: The graph collection of ``(placeholder, value)`` pairs that ``twml.contrib.initializers``'
#: PlaceholderInitializer registers; the Trainer feeds them once, at variable initialisation.
TWML_INIT_FEED_KEY = "TWML_INIT_FEED_COLLECTION"

#: The graph collections (the original's names) of ``twml.contrib.layers.MaskLayer``'s and
#: ``twml.contrib.pruning.apply_mask``'s pruning masks (one ``[units]``
#: variable each) and of their batch-broadcast copies, whose gradients are the Fisher signal
#: ``twml.optimizers.PruningOptimizer`` prunes by.
MASK_COLLECTION = "pruning/masks"
MASK_EXTENDED_COLLECTION = "pruning/masks_extended"
