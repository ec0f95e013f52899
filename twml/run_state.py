"""twml.run_state: what a training run leaves on disk that a rerun must find again, and the
debris a killed run leaves that a rerun must clean.

A run that is killed and started again with the same ``save_dir`` resumes its checkpoint, so
everything the checkpoint's weights depend on — a calibrated discretizer module, an isotonic
calibration — is part of the run's state. This module gives those artefacts fingerprints
(SHA-1 of their bytes), keeps a record of them beside the checkpoint
(``<save_dir>/calibration_record.json``), and cleans the temporaries of killed writers:

- :func:`directory_fingerprint` / :func:`checkpoint_fingerprint`: content hashes;
- :func:`check_calibration_record`: records an artefact's fingerprint for a save_dir, or refuses
  (:class:`CalibrationMismatchError`) when the save_dir's checkpoint was trained with another;
- :func:`staging_dir` / :func:`remove_stale_staging_dirs`: ``<prefix><pid>-<random>`` working
  directories, removed by later runs once their process is gone;
- :func:`publish_export`: a SavedModel export written in a staging directory, completed (its
  ``feature_spec.yaml``) and renamed into place, not duplicated by a rerun exporting the same
  checkpoint.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional

import tensorflow.compat.v1 as tf

from twml.feature_spec import FEATURE_SPEC_FILE, write_feature_spec
from twml.util import write_file
from twml_common.processes import process_alive

_LOG = logging.getLogger(__name__)

#: The record of a save_dir's calibrations: ``{name: {"path": ..., "fingerprint": ...}}``.
CALIBRATION_RECORD_FILE = "calibration_record.json"


class CalibrationMismatchError(ValueError):
    """A save_dir's checkpoint was trained with another calibration than the one present now."""


def directory_fingerprint(path: str, exclude: Iterable[str] = ()) -> str:
    """SHA-1 (hex) of every file under ``path``: relative names and contents in sorted order.

    Args:
      path: a local directory.
      exclude: file-name prefixes to leave out (e.g. ``events.`` for summaries written beside a
        module, or the name of a marker file holding the fingerprint itself).

    Raises:
      FileNotFoundError: ``path`` is not a directory.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError("%s: not a directory" % path)
    exclude = tuple(exclude)
    relative = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in names:
            if exclude and name.startswith(exclude):
                continue
            relative.append(os.path.relpath(os.path.join(root, name), path).replace(os.sep, "/"))
    digest = hashlib.sha1()
    for name in sorted(relative):
        digest.update(name.encode("utf-8") + b"\0")
        with open(os.path.join(path, name), "rb") as handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def checkpoint_fingerprint(checkpoint_prefix: str) -> str:
    """SHA-1 (hex) of a checkpoint's ``.index`` file. The index holds every variable's shape,
    offset and CRC32C, so two checkpoints with different values differ here.

    Raises:
      FileNotFoundError: no ``<checkpoint_prefix>.index``.
    """
    index = checkpoint_prefix + ".index"
    if not tf.io.gfile.exists(index):
        raise FileNotFoundError("%s: no such checkpoint index" % index)
    with tf.io.gfile.GFile(index, "rb") as handle:
        return hashlib.sha1(handle.read()).hexdigest()


def read_json(path: str) -> Optional[Dict]:
    """The JSON object in ``path``, or None when the file does not exist.

    Raises:
      ValueError: the file is not a JSON object (naming the file).
    """
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as handle:
        text = handle.read()
    try:
        value = json.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("%s: not valid JSON (%s); delete it to start this run afresh" % (path, error)) from None
    if not isinstance(value, dict):
        raise ValueError("%s: expected a JSON object" % path)
    return value


def check_calibration_record(save_dir: str, name: str, path: str, fingerprint: str) -> None:
    """Ties the calibration ``name`` (an artefact at ``path`` with ``fingerprint``) to the model
    checkpoints of ``save_dir``.

    With no record of ``name`` yet the record is written (atomically). With a record, the
    fingerprint must be the recorded one, since the checkpoints in ``save_dir`` were trained on that
    calibration's output.

    Raises:
      CalibrationMismatchError: the recorded fingerprint differs (the message names both paths
        and how to start afresh).
    """
    record_path = os.path.join(save_dir, CALIBRATION_RECORD_FILE)
    record = read_json(record_path) or {}
    entry = record.get(name)
    if entry is None:
        tf.io.gfile.makedirs(save_dir)
        record[name] = {"path": path, "fingerprint": fingerprint}
        write_file(record_path, json.dumps(record, indent=1, sort_keys=True))
        return
    if entry.get("fingerprint") != fingerprint:
        raise CalibrationMismatchError(
            "%s: the model in %s was trained with the %s calibration %s (fingerprint %s), but %s holds "
            "another one (fingerprint %s); restore that calibration, or start afresh with --overwrite_save_dir "
            "or another --save_dir"
            % (record_path, save_dir, name, entry.get("path"), entry.get("fingerprint"), path, fingerprint)
        )


def staging_dir(parent: str, prefix: str) -> str:
    """Creates and returns a new directory ``<parent>/<prefix><pid>-<random>`` (see
    :func:`remove_stale_staging_dirs`)."""
    path = os.path.join(parent, "%s%d-%s" % (prefix, os.getpid(), uuid.uuid4().hex[:12]))
    tf.io.gfile.makedirs(path)  # through tf.io.gfile: export directories may be remote
    return path


def remove_stale_staging_dirs(parent: str, prefix: str) -> List[str]:
    """Removes the ``<parent>/<prefix><pid>-*`` directories whose process no longer exists (the
    working directories of killed runs); a live process's are left alone.

    Returns:
      the removed paths.
    """
    removed: List[str] = []
    if "://" in parent or not os.path.isdir(parent):
        return removed
    for name in sorted(os.listdir(parent)):
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not process_alive(int(pid_text)):
            path = os.path.join(parent, name)
            _LOG.info("removing %s, left by a killed run (pid %s)", path, pid_text)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


#: Prefix of :func:`publish_export`'s staging directories in an export directory.
EXPORT_STAGING_PREFIX = "temp-twml-"
#: Written into every export by :func:`publish_export`: ``{"checkpoint", "key"}``.
EXPORT_RECORD_FILE = "twml_export.json"
_TF_EXPORT_TEMP = re.compile(r"temp-\d+$")


def remove_export_debris(export_dir: str) -> List[str]:
    """Removes what killed exports left in ``export_dir``: :func:`publish_export`'s staging
    directories whose process is gone and tf.estimator's own ``temp-<timestamp>`` directories
    (the chief is the only exporter of a directory). Returns the removed paths."""
    removed = remove_stale_staging_dirs(export_dir, EXPORT_STAGING_PREFIX)
    if "://" in export_dir or not os.path.isdir(export_dir):
        return removed
    for name in sorted(os.listdir(export_dir)):
        path = os.path.join(export_dir, name)
        if _TF_EXPORT_TEMP.match(name) and os.path.isdir(path):
            _LOG.info("removing %s, left by a killed export", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def export_key(export_path: str, checkpoint_path: str) -> str:
    """What makes two exports the same model: SHA-1 over the exported checkpoint's fingerprint,
    every meta graph's tags and signature definitions (names, tensors, dtypes, shapes) and the
    ``feature_spec.yaml`` bytes. (The graph bytes themselves are not compared: TensorFlow names
    the functions of a graph with a process-wide counter, so the same model exported by two
    processes differs there.)"""
    from tensorflow.core.protobuf import saved_model_pb2

    digest = hashlib.sha1(checkpoint_fingerprint(checkpoint_path).encode("ascii"))
    model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(export_path, "saved_model.pb"), "rb") as handle:
        model.ParseFromString(handle.read())
    for meta_graph in model.meta_graphs:
        digest.update(b"\0tags:" + ",".join(sorted(meta_graph.meta_info_def.tags)).encode("utf-8"))
        for name in sorted(meta_graph.signature_def):
            digest.update(b"\0signature:" + name.encode("utf-8") + b"\0")
            digest.update(meta_graph.signature_def[name].SerializeToString(deterministic=True))
    spec = os.path.join(export_path, FEATURE_SPEC_FILE)
    if tf.io.gfile.exists(spec):
        with tf.io.gfile.GFile(spec, "rb") as handle:
            digest.update(b"\0feature_spec:" + handle.read())
    return digest.hexdigest()


def _same_export(export_dir: str, key: str) -> Optional[str]:
    """A complete export (``<digits>/`` with a :data:`EXPORT_RECORD_FILE` of ``key``) in
    ``export_dir``, or None."""
    for name in sorted(tf.io.gfile.listdir(export_dir), reverse=True):
        name = name.rstrip("/")
        record_path = os.path.join(export_dir, name, EXPORT_RECORD_FILE)
        if name.isdigit() and tf.io.gfile.exists(record_path):
            try:
                record = read_json(record_path)
            except ValueError:
                continue
            if record and record.get("key") == key:
                return os.path.join(export_dir, name)
    return None


def _free_export_path(export_dir: str, name: str) -> str:
    """``export_dir/<name>``, or the next free timestamp after ``name`` when that is taken."""
    path = os.path.join(export_dir, name)
    while tf.io.gfile.exists(path) and name.isdigit():
        name = str(int(name) + 1)
        path = os.path.join(export_dir, name)
    return path


def publish_export(
    export_dir: str,
    export_fn: Callable[[str], Any],
    checkpoint_path: str,
    feature_spec: Optional[Dict[str, Any]] = None,
    log_features: bool = True,
) -> str:
    """Runs an export of ``checkpoint_path`` into a staging directory and moves the result into
    ``export_dir``.

    1. removes the debris of killed exports (:func:`remove_export_debris`);
    2. ``export_fn(staging)`` writes a timestamped SavedModel under a new staging directory
       ``<export_dir>/temp-twml-<pid>-*`` and returns its path (e.g. the Estimator's
       ``export_saved_model``);
    3. ``feature_spec.yaml`` (``feature_spec``, when given) and ``twml_export.json`` (the
       checkpoint and the :func:`export_key`) are written into it;
    4. if an export with the same key is already in ``export_dir`` (a rerun of a finished run
       exporting the same checkpoint the same way) that one is kept and returned; otherwise the
       staged export is renamed to ``<export_dir>/<timestamp>``.

    A kill at any point leaves either no export or a complete one (with its feature spec), plus
    at most a ``temp-*`` directory that the next export removes.

    Returns:
      the export's path.
    """
    tf.io.gfile.makedirs(export_dir)
    remove_export_debris(export_dir)
    staging = staging_dir(export_dir, EXPORT_STAGING_PREFIX)
    try:
        staged = export_fn(staging)
        staged = (staged.decode() if isinstance(staged, bytes) else str(staged)).rstrip("/")
        if feature_spec:
            write_feature_spec(staged, feature_spec)
        key = export_key(staged, checkpoint_path)
        write_file(
            os.path.join(staged, EXPORT_RECORD_FILE),
            json.dumps({"checkpoint": checkpoint_path, "key": key}, sort_keys=True),
        )
        export_path = _same_export(export_dir, key)
        if export_path is not None:
            _LOG.info(
                "%s already holds this export (same checkpoint, signatures and feature spec); keeping it", export_path
            )
        else:
            export_path = _free_export_path(export_dir, os.path.basename(staged))
            tf.io.gfile.rename(staged, export_path)
            if feature_spec and log_features:
                _LOG.info(
                    "exported %s (checkpoint %s; feature spec of %d features)",
                    export_path,
                    checkpoint_path,
                    len(feature_spec.get("features", {})),
                )
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return export_path
