"""Shapes of every net, checkpoint-layout compatibility with the original project, STN, batching."""
import numpy as np
import pytest
import torch

from lprcore.weights import WeightsError, load_weights
from LPRNet.chars import BLANK, CHARS, NUM_CLASSES
from LPRNet.model import LPRNet, crops_to_input
from LPRNet.stn import STNet
from MTCNN.cascade import ONET_INPUT, PNET_CELL, PNET_STRIDE
from MTCNN.nets import ONet, PNet, images_to_input

# The original project's layout (xuexingyu24/License_Plate_Detection_Pytorch), written out by hand.
PNET_LAYOUT = {
    "features.conv1.weight": (10, 3, 3, 3), "features.conv1.bias": (10,), "features.prelu1.weight": (10,),
    "features.conv2.weight": (16, 10, 3, 5), "features.conv2.bias": (16,), "features.prelu2.weight": (16,),
    "features.conv3.weight": (32, 16, 3, 5), "features.conv3.bias": (32,), "features.prelu3.weight": (32,),
    "conv4_1.weight": (2, 32, 1, 1), "conv4_1.bias": (2,), "conv4_2.weight": (4, 32, 1, 1), "conv4_2.bias": (4,),
}
ONET_LAYOUT = {
    "features.conv1.weight": (32, 3, 3, 3), "features.conv1.bias": (32,), "features.prelu1.weight": (32,),
    "features.conv2.weight": (64, 32, 3, 3), "features.conv2.bias": (64,), "features.prelu2.weight": (64,),
    "features.conv3.weight": (64, 64, 3, 3), "features.conv3.bias": (64,), "features.prelu3.weight": (64,),
    "features.conv4.weight": (128, 64, 1, 1), "features.conv4.bias": (128,), "features.prelu4.weight": (128,),
    "features.conv5.weight": (256, 1280), "features.conv5.bias": (256,), "features.prelu5.weight": (256,),
    "conv6_1.weight": (2, 256), "conv6_1.bias": (2,), "conv6_2.weight": (4, 256), "conv6_2.bias": (4,),
}
STN_LAYOUT = {
    "localization.0.weight": (32, 3, 3, 3), "localization.0.bias": (32,),
    "localization.3.weight": (32, 32, 5, 5), "localization.3.bias": (32,),
    "fc_loc.0.weight": (32, 896), "fc_loc.0.bias": (32,), "fc_loc.2.weight": (6, 32), "fc_loc.2.bias": (6,),
}


def _bn(prefix, n):
    return {f"{prefix}.weight": (n,), f"{prefix}.bias": (n,), f"{prefix}.running_mean": (n,),
            f"{prefix}.running_var": (n,), f"{prefix}.num_batches_tracked": ()}


def _sbb(prefix, cin, cout):
    m = cout // 4
    shapes = [(m, cin, 1, 1), (m, m, 3, 1), (m, m, 1, 3), (cout, m, 1, 1)]
    out = {}
    for idx, s in zip((0, 2, 4, 6), shapes):
        out[f"{prefix}.block.{idx}.weight"] = s
        out[f"{prefix}.block.{idx}.bias"] = (s[0],)
    return out


LPRNET_LAYOUT = {
    "backbone.0.weight": (64, 3, 3, 3), "backbone.0.bias": (64,), **_bn("backbone.1", 64),
    **_sbb("backbone.4", 64, 128), **_bn("backbone.5", 128),
    **_sbb("backbone.8", 64, 256), **_bn("backbone.9", 256),
    **_sbb("backbone.11", 256, 256), **_bn("backbone.12", 256),
    "backbone.16.weight": (256, 64, 1, 4), "backbone.16.bias": (256,), **_bn("backbone.17", 256),
    "backbone.20.weight": (68, 256, 13, 1), "backbone.20.bias": (68,), **_bn("backbone.21", 68),
    "container.0.weight": (68, 516, 1, 1), "container.0.bias": (68,),
}


def _state(layout):
    g = torch.Generator().manual_seed(1)
    return {k: (torch.randn(s, generator=g) * 0.1 if s else torch.tensor(3))
            for k, s in layout.items()}


@pytest.mark.parametrize("net_cls,layout", [(PNet, PNET_LAYOUT), (lambda: ONet(vertices=False), ONET_LAYOUT),
                                             (STNet, STN_LAYOUT), (lambda: LPRNet(num_classes=68), LPRNET_LAYOUT)],
                         ids=["PNet", "ONet", "STNet", "LPRNet-68"])
def test_original_layout_loads_strictly(tmp_path, net_cls, layout):
    net = net_cls()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == layout
    path = tmp_path / "orig.pth"
    state = _state(layout)
    torch.save(state, path)
    load_weights(net, path, type(net).__name__)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k])


def test_onet_loads_with_or_without_its_vertex_branch(tmp_path):
    from MTCNN.detector import load_onet

    torch.save(_state(ONET_LAYOUT), tmp_path / "original.pth")
    assert not load_onet(tmp_path / "original.pth").has_vertices  # boxes only, as the original project
    with_vertices = ONet()
    torch.save(with_vertices.state_dict(), tmp_path / "vertices.pth")
    onet = load_onet(tmp_path / "vertices.pth")
    assert onet.has_vertices
    with torch.no_grad():
        x = torch.randn(3, 3, *ONET_INPUT)
        assert torch.equal(onet(x)[2], with_vertices.eval()(x)[2])


def test_original_checkpoint_with_module_prefix_loads(tmp_path):
    state = {f"module.{k}": v for k, v in _state(PNET_LAYOUT).items()}
    torch.save(state, tmp_path / "p.pth")
    load_weights(PNet(), tmp_path / "p.pth", "PNet")


def test_mismatched_weights_name_the_file_and_the_difference(tmp_path):
    torch.save(ONet().state_dict(), tmp_path / "pnet.pth")
    with pytest.raises(WeightsError, match=r"pnet\.pth.*does not fit PNet.*missing"):
        load_weights(PNet(), tmp_path / "pnet.pth", "PNet")
    (tmp_path / "bad.pth").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match=r"bad\.pth could not be read"):
        load_weights(PNet(), tmp_path / "bad.pth", "PNet")
    with pytest.raises(WeightsError, match=r"none\.pth not found"):
        load_weights(PNet(), tmp_path / "none.pth", "PNet")


def test_pnet_cell_and_stride():
    pnet = PNet().eval()
    ch, cw = PNET_CELL
    sh, sw = PNET_STRIDE
    with torch.no_grad():
        logits, offsets = pnet(torch.zeros(1, 3, ch, cw))
        assert logits.shape == (1, 2, 1, 1) and offsets.shape == (1, 4, 1, 1)
        logits, _ = pnet(torch.zeros(1, 3, ch + 3 * sh, cw + 4 * sw))
        assert logits.shape == (1, 2, 4, 5)


def test_onet_lprnet_stn_shapes():
    with torch.no_grad():
        logits, offsets, vertices = ONet().eval()(torch.zeros(5, 3, *ONET_INPUT))
        assert logits.shape == (5, 2) and offsets.shape == (5, 4) and vertices.shape == (5, 8)
        assert len(ONet(vertices=False).eval()(torch.zeros(5, 3, *ONET_INPUT))) == 2
        x = torch.randn(4, 3, 24, 94)
        assert STNet().eval()(x).shape == (4, 3, 24, 94)
        assert LPRNet().eval()(x).shape == (4, NUM_CLASSES, 18)


def test_char_table():
    from LPRNet.chars import ORIGINAL_CHARS, charset_for

    assert len(ORIGINAL_CHARS) == 68 and ORIGINAL_CHARS[BLANK] == "-" and BLANK == 67
    assert CHARS[:68] == ORIGINAL_CHARS and CHARS[68:] == tuple("警学挂港澳使领") and NUM_CLASSES == 75
    assert CHARS[:31] == tuple("京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新")
    assert CHARS[31:41] == tuple("0123456789") and CHARS[65:67] == ("I", "O")
    assert charset_for(68) is ORIGINAL_CHARS and charset_for(75) is CHARS
    with pytest.raises(ValueError, match="69"):
        charset_for(69)


def test_a_68_class_checkpoint_without_manifest_loads_with_the_original_table(tmp_path):
    from LPRNet.chars import ORIGINAL_CHARS
    from LPRNet.reading import LPRNET_WEIGHTS, STN_WEIGHTS
    from LPRNet.recognizer import RecognizerNet, load_recognizer

    for n, table in ((68, ORIGINAL_CHARS), (75, CHARS)):
        torch.manual_seed(3)
        net = RecognizerNet(num_classes=n).eval()
        torch.save(net.stn.state_dict(), tmp_path / STN_WEIGHTS)
        torch.save(net.lprnet.state_dict(), tmp_path / LPRNET_WEIGHTS)
        assert load_recognizer(tmp_path).chars is table


def test_mtcnn_input_is_rgb_scaled_from_bgr():
    img = np.array([[[0, 127, 255]]], dtype=np.uint8)  # one BGR pixel
    t = images_to_input(img)
    assert t.shape == (1, 3, 1, 1)
    assert torch.allclose(t.flatten(), torch.tensor([127.5, -0.5, -127.5]) * 0.0078125)
    with pytest.raises(ValueError, match="uint8 BGR"):
        images_to_input(img.astype(np.float32))


def test_lprnet_input_is_bgr_scaled_and_checks_its_size():
    crop = np.zeros((24, 94, 3), np.uint8)
    crop[..., 0] = 255  # blue channel first, as read
    t = crops_to_input([crop])
    assert t.shape == (1, 3, 24, 94)
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([127.5, -127.5, -127.5]) * 0.0078125)
    with pytest.raises(ValueError, match=r"\[24, 94, 3\]"):
        crops_to_input([np.zeros((20, 94, 3), np.uint8)])


@pytest.mark.parametrize("align_corners", [False, True])
def test_stn_identity_passes_crops_through(align_corners):
    x = torch.randn(3, 3, 24, 94)
    with torch.no_grad():
        y = STNet(align_corners=align_corners).eval()(x)
    assert torch.allclose(x, y, atol=1e-4)


def test_stn_align_corners_changes_a_shifted_transform():
    stn = STNet(align_corners=False).eval()
    with torch.no_grad():
        stn.fc_loc[2].bias.copy_(torch.tensor([1.0, 0, 0.3, 0, 1.0, 0]))  # shift by 0.3
        x = torch.randn(1, 3, 24, 94)
        a = stn(x)
        stn.align_corners = True
        b = stn(x)
    assert not torch.allclose(a, b, atol=1e-4)


def test_lprnet_batch_equals_one_by_one():
    torch.manual_seed(0)
    net = LPRNet().eval()
    x = torch.randn(6, 3, 24, 94)
    x[3] *= 5  # a very different sample must not change the others (per-sample normalisation)
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i:i + 1]) for i in range(6)])
    assert torch.allclose(batch, single, atol=1e-4, rtol=1e-4)


def test_double_row_plates_are_read_top_row_then_bottom_row():
    """A 2:1 plate whose top band is red and bottom band blue gives a crop red on the left (the
    top row: province + letter) and blue on the right (the 5 characters below)."""
    import numpy as np

    from LPRNet.crops import DOUBLE_ROW_PARTS, warp_double_row

    plate = np.zeros((220, 440, 3), np.uint8)
    split = int(220 * (DOUBLE_ROW_PARTS[0][3] + DOUBLE_ROW_PARTS[1][1]) / 2)
    plate[:split] = (0, 0, 255)
    plate[split:] = (255, 0, 0)
    image = np.full((400, 700, 3), 128, np.uint8)
    image[100:320, 150:590] = plate
    crop = warp_double_row(image, np.float32([[150, 100], [590, 100], [590, 320], [150, 320]]))
    assert crop.shape == (24, 94, 3)
    left, right = crop[:, :40].reshape(-1, 3).mean(0), crop[:, 54:].reshape(-1, 3).mean(0)
    assert left[2] > 200 and left[0] < 50 and right[0] > 200 and right[2] < 50


def test_attribute_net_shapes_and_decoding():
    from ccpd.plates import COLOURS, LAYOUTS
    from LPRNet.attributes import PlateAttributeNet
    from LPRNet.reading import decode_attributes

    c, lo = PlateAttributeNet().eval()(torch.zeros(3, 3, 24, 94))
    assert c.shape == (3, len(COLOURS)) and lo.shape == (3, len(LAYOUTS))
    colour = torch.zeros(2, 5)
    colour[0, 1] = 5.0
    layout = torch.tensor([[0.0, 3.0], [3.0, 0.0]])
    out = decode_attributes(colour, layout)
    assert out[0][:2] == ("yellow", "double") and out[1][1] == "single" and 0.9 < out[0][2] <= 1.0
