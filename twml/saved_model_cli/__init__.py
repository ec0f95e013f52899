"""twml.saved_model_cli: ``python -m twml.saved_model_cli show --dir EXPORT --all`` runs TensorFlow's
``saved_model_cli``. The package has no names; the launcher is :mod:`twml.saved_model_cli.__main__`.

A SavedModel exported by twml uses twml's custom ops: the launcher loads ``libtwml_tf.so``
(``import libtwml.ops``) first so that ``run`` and ``show`` can read its graphs.
"""
