"""One storage check for every folder the course writes, and one message that names the folder and the fix
(held-back cause 3), also for errors TensorFlow, h5py and NumPy raise without an errno."""

import errno
import os

import pytest

from course import paths, storage


@pytest.fixture
def folders(course_env, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return {"build": paths.build_dir(), "cache": paths.cache_dir(), "keras": paths.keras_home(),
            "checkout": paths.REPO_ROOT}


@pytest.mark.parametrize("where, setting", [
    ("build", "COURSE_BUILD_DIR"), ("cache", "COURSE_CACHE_DIR"), ("keras", "KERAS_HOME"),
    ("checkout", "make the course's folder writable"),
])
@pytest.mark.parametrize("number, words", [
    (errno.ENOSPC, "the disk is full"), (errno.EROFS, "is read-only"), (errno.EACCES, "is read-only"),
    (errno.ENOTDIR, "a file of that name is in the way"),
])
def test_the_message_names_the_folder_and_the_setting_that_moves_it(folders, where, setting, number, words):
    target = folders[where] / "some" / "file.bin"
    message = storage.storage_message(target, OSError(number, os.strerror(number)))
    assert words in message and str(target) in message and setting in message, message


@pytest.mark.parametrize("text", [
    "Unable to synchronously create file (unable to open file: name = '/x/model.keras', errno = 28, error message = "
    "'No space left on device', flags = 13, o_flags = 242)",                     # h5py, Keras .keras / .h5
    "ResourceExhaustedError: /x/ckpt.data-00000-of-00001; No space left on device",  # TensorFlow's writers
    "OSError: [Errno 28] No space left on device",                                  # NumPy's np.save
])
def test_writers_that_carry_no_errno_are_still_said_to_have_filled_the_disk(text):
    err = OSError(text)  # no errno: only the text says it
    assert storage.is_storage_problem(err)
    where = storage.mentioned_path(text) or "/x"
    assert storage.storage_message(where, err).startswith(f"the disk is full: no space left to write {where}")
    assert storage.mentioned_path(text) in (None, "/x/model.keras", "/x/ckpt.data-00000-of-00001")


def test_read_only_text_without_errno_is_read_only():
    err = OSError("Read-only file system: '/mnt/course/build/x'")
    assert storage.is_storage_problem(err) and "is read-only" in storage.storage_message("/mnt/course/build/x", err)


def test_an_error_that_is_not_about_storage_is_not_taken_for_one():
    assert not storage.is_storage_problem(ValueError("shapes (3,) and (4,) not aligned"))
    assert not storage.is_storage_problem(OSError(errno.ENOENT, "No such file or directory"))


def test_check_writable_probes_up_front_and_names_a_file_in_a_folders_place(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    with pytest.raises(storage.StorageError, match="cannot be a folder: a file of that name is in the way"):
        storage.check_writable(blocker / "sub")
    assert storage.check_writable(tmp_path / "new" / "folder").is_dir()
    assert not list((tmp_path / "new" / "folder").iterdir()), "the probe is removed"


def test_a_read_only_checkout_for_readme_is_one_line(course_env, tmp_path, monkeypatch, capsys):
    from course import runner, store

    store.save_attempt({"notebook": "01_mnist_dense", "mode": "full", "data": "", "metrics": {"a": 1.0},
                        "seconds": 1.0})
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "README.md").write_text(f"{runner.README_START}\n{runner.README_END}\n")
    monkeypatch.setattr(paths, "REPO_ROOT", checkout)

    def read_only(path, content):
        raise storage.storage_error(path, OSError(errno.EROFS, "Read-only file system"))

    monkeypatch.setattr(runner.storage, "write_atomic", read_only)
    assert runner.results_command(readme=True) == 1
    err = capsys.readouterr().err
    assert "is read-only" in err and "make the course's folder writable" in err and "Traceback" not in err
