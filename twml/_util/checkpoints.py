"""Checkpoints: variable names, initialisation maps between scopes, backups, the only checkpoint
of a directory, renaming a checkpoint's scope (re-exported by ``twml.util``)."""

import os
from typing import Dict, List, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml._util.files import write_file
from twml.errors import CheckpointNotFoundError


def get_checkpoint_variable_names(
    model_dir: str, exclude_var_names: Optional[Sequence[str]] = None, exclude_scopes: Optional[Sequence[str]] = None
) -> List[str]:
    """Names of the variables of the latest checkpoint of model_dir (or of a checkpoint prefix).

    Args:
      model_dir: a directory with a ``checkpoint`` file, or a checkpoint prefix.
      exclude_var_names: names left out.
      exclude_scopes: variables under these scopes (``scope/...``) are left out.
    """
    exclude = set(exclude_var_names or ())
    scopes = tuple(scope.rstrip("/") + "/" for scope in exclude_scopes or ())
    return [
        name
        for name, _ in tf.train.list_variables(model_dir)
        if name not in exclude and not (scopes and name.startswith(scopes))
    ]


def get_init_map(
    init_from_dir: str,
    exclude_var_names: Optional[Sequence[str]] = None,
    exclude_name_scopes: Optional[Sequence[str]] = None,
    name_scope_to_remove: Optional[str] = None,
    name_scope_to_prepend: Optional[str] = None,
) -> Dict[str, str]:
    """Map of checkpoint variable names to the names of the variables they initialize.

    For ``tf.train.init_from_checkpoint`` / the Trainer's ``init_map``.

    Args:
      init_from_dir: checkpoint directory or prefix.
      exclude_var_names: variable names left out.
      exclude_name_scopes: variables whose name starts with one of these scopes are left out.
      name_scope_to_remove: a leading scope removed from the new names.
      name_scope_to_prepend: a scope prepended to the new names.

    Returns:
      dict checkpoint name -> new name.
    """
    names = get_checkpoint_variable_names(init_from_dir, exclude_var_names)
    scopes = [s.rstrip("/") + "/" for s in exclude_name_scopes or ()]
    init_map = {}
    for name in names:
        if any(name.startswith(scope) for scope in scopes):
            continue
        new_name = name
        if name_scope_to_remove:
            prefix = name_scope_to_remove.rstrip("/") + "/"
            if new_name.startswith(prefix):
                new_name = new_name[len(prefix) :]
        if name_scope_to_prepend:
            new_name = name_scope_to_prepend.rstrip("/") + "/" + new_name
        init_map[name] = new_name
    return init_map


def get_scope_dict(
    init_dir: str, incoming_scope_name: str, current_scope_name: str, model_name: Optional[str] = None
) -> Dict[str, str]:
    """Map of a checkpoint's variables under incoming_scope to the same names under current_scope.

    For ``tf.train.init_from_checkpoint`` / the Trainer's ``init_map``.

    Args:
      init_dir: checkpoint directory (or prefix).
      incoming_scope_name: the scope of the variables in the checkpoint, e.g. ``"model"``.
      current_scope_name: the scope they get in the new graph, e.g. ``"tower/model"``.
      model_name: a checkpoint name inside init_dir (e.g. ``"model.ckpt-100"``); default the latest.

    Returns:
      dict checkpoint name -> new name, for every variable under incoming_scope.
    """
    checkpoint = init_dir if model_name is None else os.path.join(init_dir, model_name)
    incoming = incoming_scope_name.rstrip("/") + "/"
    current = current_scope_name.rstrip("/") + "/" if current_scope_name else ""
    return {
        name: current + name[len(incoming) :]
        for name in get_checkpoint_variable_names(checkpoint)
        if name.startswith(incoming)
    }


def backup_checkpoint(checkpoint_path_prefix: str, backup_path: str = "backup", empty_backup: bool = True) -> str:
    """Copies a checkpoint (all ``<prefix>*`` files) into a backup directory.

    Args:
      checkpoint_path_prefix: e.g. ``save_dir/model.ckpt-1000``.
      backup_path: backup directory, relative to the checkpoint's directory unless absolute (or
        with a scheme).
      empty_backup: empty the backup directory first.

    Returns:
      the backup directory. It gets a ``checkpoint`` file naming the copied checkpoint.

    Raises:
      CheckpointNotFoundError: no file has the prefix.
    """
    directory, base = os.path.split(checkpoint_path_prefix)
    files = tf.io.gfile.glob(checkpoint_path_prefix + "*")
    if not files:
        raise CheckpointNotFoundError("no checkpoint files with prefix %s" % checkpoint_path_prefix)
    if not (os.path.isabs(backup_path) or "://" in backup_path):
        backup_path = os.path.join(directory, backup_path)
    if empty_backup and tf.io.gfile.exists(backup_path):
        tf.io.gfile.rmtree(backup_path)
    tf.io.gfile.makedirs(backup_path)
    for path in files:
        tf.io.gfile.copy(path, os.path.join(backup_path, os.path.basename(path)), overwrite=True)
    write_file(os.path.join(backup_path, "checkpoint"), 'model_checkpoint_path: "%s"\n' % base)
    return backup_path


def set_only_checkpoint(source_path: str, dest_path: str, remove_source: bool = True) -> None:
    """Makes dest_path's only checkpoint the latest checkpoint of source_path.

    Copies (or, with remove_source, moves) the checkpoint files into dest_path after deleting the
    checkpoints there, and writes dest_path's ``checkpoint`` file.

    Args:
      source_path: a directory with a ``checkpoint`` file, or a checkpoint prefix.
      dest_path: the directory (created).
      remove_source: delete the source checkpoint files afterwards.

    Raises:
      CheckpointNotFoundError: no checkpoint in source_path.
    """
    prefix = tf.train.latest_checkpoint(source_path) if tf.io.gfile.isdir(source_path) else source_path
    files = tf.io.gfile.glob(prefix + "*") if prefix else []
    if not files:
        raise CheckpointNotFoundError("no checkpoint in %s" % source_path)
    tf.io.gfile.makedirs(dest_path)
    for old in tf.io.gfile.glob(os.path.join(dest_path, "*.index")):
        for path in tf.io.gfile.glob(old[: -len(".index")] + ".*"):
            tf.io.gfile.remove(path)
    for path in files:
        target = os.path.join(dest_path, os.path.basename(path))
        if remove_source:
            tf.io.gfile.rename(path, target, overwrite=True)
        else:
            tf.io.gfile.copy(path, target, overwrite=True)
    write_file(os.path.join(dest_path, "checkpoint"), 'model_checkpoint_path: "%s"\n' % os.path.basename(prefix))


def change_name_scope_from_dir(init_scope_name: str, final_scope_name: str, save_dir: str) -> None:
    """Rename the variables of the latest checkpoint in ``save_dir`` from the name scope
    ``init_scope_name`` to ``final_scope_name`` (e.g. to stitch a separately trained model into a
    larger one), writing the renamed checkpoint in place of the old one.

    Raises:
      CheckpointNotFoundError: ``save_dir`` has no checkpoint.
    """
    checkpoint = tf.train.latest_checkpoint(save_dir)
    if checkpoint is None:
        raise CheckpointNotFoundError("no checkpoint in %s" % save_dir)
    prefix = init_scope_name.rstrip("/") + "/"
    with tf.Graph().as_default():
        renamed = []
        for name, _ in tf.train.list_variables(checkpoint):
            value = tf.train.load_variable(checkpoint, name)
            new_name = final_scope_name.rstrip("/") + "/" + name[len(prefix) :] if name.startswith(prefix) else name
            renamed.append(tf.Variable(value, name=new_name))
        saver = tf.train.Saver(renamed)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            saver.save(session, checkpoint, write_meta_graph=False)
