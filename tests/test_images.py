import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnkit.data.images import expand_image_paths, mnist_style, read_grayscale, stroke_width
from nnkit.errors import NnkitError, UsageError

from conftest import SAMPLES


def drawn_seven(size=(120, 90), ink=0, paper=255, mode="L", offset=(0, 0)):
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    x, y = offset
    draw.line([(20 + x, 15 + y), (60 + x, 15 + y), (35 + x, 75 + y)], fill=ink, width=6)
    return image


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def test_output_is_mnist_shaped_white_on_black():
    out = mnist_style(np.asarray(drawn_seven(), dtype=np.float32))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[:, 0].max() == 0  # black frame
    rows, cols = np.nonzero(out > 50)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # the ink fits MNIST's 20x20 box
    row, col = centre_of_mass(out.astype(float))
    assert abs(row - 13.5) < 1 and abs(col - 13.5) < 1


def test_polarity_and_position_do_not_matter():
    dark_on_light = mnist_style(np.asarray(drawn_seven(), dtype=np.float32))
    light_on_dark = mnist_style(np.asarray(drawn_seven(ink=255, paper=0, offset=(30, 5)), dtype=np.float32))
    assert np.abs(dark_on_light.astype(int) - light_on_dark.astype(int)).mean() < 2


def test_idempotent_on_real_mnist(mnist_dir):
    from nnkit.data.idx import read_idx

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:50].astype(np.float32)
    renormalised = np.stack([mnist_style(image) for image in images]).astype(np.float32)
    # Same digit in the same place, up to resampling and the widening of MNIST's thinnest
    # strokes: far closer than two different digits are to each other.
    assert np.abs(renormalised - images).mean() < 20
    assert np.abs(images[:-1] - images[1:]).mean() > 35


def test_thin_strokes_are_thickened_to_mnist_width():
    image = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(image).ellipse([(100, 40), (300, 360)], outline=0, width=4)  # a thin pen zero
    out = mnist_style(np.asarray(image, dtype=np.float32)).astype(np.float32) / 255
    ink = np.asarray(Image.fromarray(out).resize((140, 140), Image.LANCZOS))
    assert stroke_width(ink) > 8  # 8 px at 5x is MNIST's 5th percentile


@pytest.mark.parametrize("name", ["seven.png", "zero.jpg", "three.png", "one_transparent.png"])
def test_sample_files_in_any_mode(name):
    out = mnist_style(read_grayscale(SAMPLES / name))
    assert out.max() == 255 and out[0].max() == 0


def test_modes_rgba_cmyk_16bit(tmp_path):
    seven = np.asarray(drawn_seven(), dtype=np.float32)
    reference = mnist_style(seven)
    rgba = Image.new("RGBA", (120, 90), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(20, 15), (60, 15), (35, 75)], fill=(0, 0, 0, 255), width=6)
    cmyk = drawn_seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)).convert("CMYK")
    sixteen = Image.fromarray((np.asarray(drawn_seven(), dtype=np.uint16) * 257))
    for index, image in enumerate((rgba, cmyk, sixteen)):
        path = tmp_path / f"{index}.{'jpg' if image.mode == 'CMYK' else 'png'}"
        image.save(path)
        assert np.abs(mnist_style(read_grayscale(path)).astype(int) - reference).mean() < 8, image.mode


def test_blank_and_tiny_images_fail_clearly():
    with pytest.raises(NnkitError, match="no digit found"):
        mnist_style(np.full((40, 40), 255, np.float32))
    with pytest.raises(NnkitError, match="no digit found"):
        mnist_style(np.zeros((1, 1), np.float32))


def test_bad_files(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(NnkitError, match="not an image file"):
        read_grayscale(tmp_path / "text.png")
    (tmp_path / "cut.png").write_bytes((SAMPLES / "zero.jpg").read_bytes()[:400])
    with pytest.raises(NnkitError, match="corrupt or truncated"):
        read_grayscale(tmp_path / "cut.png")
    with pytest.raises(NnkitError, match="no such file"):
        read_grayscale(tmp_path / "missing.png")


def test_expand_image_paths(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert expand_image_paths([tmp_path]) == [tmp_path / "a.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(NnkitError, match="has no image files"):
        expand_image_paths([tmp_path / "empty"])
    with pytest.raises(NnkitError, match="no such file"):
        expand_image_paths([tmp_path / "nope.png"])


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    from PIL import Image

    from nnkit.data.images import ImageTooLarge

    Image.new("1", (6000, 6000), 1).save(tmp_path / "huge.png")  # 36 megapixels in a few kilobytes
    with pytest.raises(ImageTooLarge, match="'.*huge.png' is 6000x6000 pixels, over the limit of 25 megapixels"):
        read_grayscale(tmp_path / "huge.png")
    monkeypatch.setenv("NNKIT_MAX_IMAGE_PIXELS", "1000")  # the limit is the user's to set
    with pytest.raises(ImageTooLarge, match="over the limit of 0.001 megapixels"):
        read_grayscale(SAMPLES / "seven.png")
    monkeypatch.setenv("NNKIT_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(UsageError, match="NNKIT_MAX_IMAGE_PIXELS must be a whole number"):
        read_grayscale(SAMPLES / "seven.png")


def test_a_fifo_named_like_an_image_is_refused_not_waited_on(tmp_path, capsys, trained_digits):
    import os

    from conftest import run_in_process

    os.mkfifo(tmp_path / "pipe.png")  # opening it to read would block until a writer comes
    with pytest.raises(NnkitError, match="is not a regular file"):
        expand_image_paths([tmp_path / "pipe.png"])
    with pytest.raises(NnkitError, match="is not a regular file"):
        read_grayscale(tmp_path / "pipe.png")
    done = run_in_process(capsys, "digits", "predict", tmp_path / "pipe.png", "--model-path", trained_digits)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "is not a regular file" in done.stderr
