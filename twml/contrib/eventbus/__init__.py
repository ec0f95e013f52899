"""twml.contrib.eventbus: DataRecords streamed from a pub/sub subscriber process (Twitter's EventBus).

Not imported by ``twml.contrib``. :mod:`.reader` has the record readers (the EventBus one needs
Twitter's EventBus subscriber and raises naming it), :mod:`.input_fn` the dataset built on them.
"""
