"""twml.contrib.feature_importances: permutation feature importances (serial and tree algorithms).

The submodules are bound by ``twml.trainers.data_record_trainer`` (as in the original); users run
them through ``DataRecordTrainer.contrib_run_feature_importances`` or the
``--feature_importance.*`` flags.
"""
