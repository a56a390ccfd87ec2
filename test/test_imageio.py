"""Image reading: odd formats become BGR uint8; unreadable files give errors that name them."""
import numpy as np
import pytest

from lprcore.imageio import ImageReadError, imread, imwrite, to_bgr8


def test_conversions():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_bgr8(gray).shape == (3, 4, 3)
    rgba = np.zeros((3, 4, 4), np.uint8)
    assert to_bgr8(rgba).shape == (3, 4, 3)
    deep = np.full((2, 2, 3), 65535, np.uint16)
    assert to_bgr8(deep).max() == 255 and to_bgr8(deep).dtype == np.uint8
    with pytest.raises(ImageReadError, match="empty"):
        to_bgr8(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ImageReadError, match="shape"):
        to_bgr8(np.zeros((2, 2, 2), np.uint8))


def test_read_write_chinese_path(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "京A00001.png"
    imwrite(path, img)
    assert np.array_equal(imread(path), img)
    assert not list(tmp_path.glob("*.tmp*"))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        imread(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="folder"):
        imread(tmp_path)
    (tmp_path / "e.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"e\.jpg: empty file"):
        imread(tmp_path / "e.jpg")
    (tmp_path / "t.jpg").write_bytes(b"GIF89a broken")
    with pytest.raises(ImageReadError, match=r"t\.jpg: not a readable image"):
        imread(tmp_path / "t.jpg")


def test_list_images_is_recursive_sorted_and_filters_extensions(tmp_path):
    from lprcore.imageio import list_images

    (tmp_path / "b").mkdir()
    for name in ("b/2.JPG", "a.png", "b/1.jpg", "notes.txt", "c.webp"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.replace(str(tmp_path), "") for p in list_images(tmp_path)] == ["/a.png", "/b/1.jpg", "/b/2.JPG", "/c.webp"]
    assert [p.replace(str(tmp_path), "") for p in list_images(tmp_path, recursive=False)] == ["/a.png", "/c.webp"]


def test_atomic_write_leaves_the_old_file_and_no_temp_file_on_error(tmp_path):
    from lprcore.files import atomic_write

    target = tmp_path / "list.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["list.txt"]
