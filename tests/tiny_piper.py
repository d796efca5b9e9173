"""A tiny Piper voice for tests: a real ONNX model with Piper's inputs and outputs, built here.

No voice model can be downloaded in tests, so this one is made with onnx's helper: it takes
Piper's phoneme ids, lengths and scales and returns one buzz of 256 samples per phoneme id
(its pitch follows the id, its speed the length scale). Piper loads it, phonemises with its
own espeak-ng data, and runs it through onnxruntime: the real loading and synthesis code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper


def build(path: Path, sample_rate: int = 16000, hop: int = 256) -> Path:
    inp = helper.make_tensor_value_info("input", TensorProto.INT64, [1, None])
    lengths = helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1])
    scales = helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, None])
    consts = [
        helper.make_tensor("k", TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor("ramp", TensorProto.FLOAT, [1, 1, hop], (np.arange(hop) * 0.2).tolist()),
        helper.make_tensor("axes2", TensorProto.INT64, [1], [2]),
        helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 1, -1]),
        helper.make_tensor("idx1", TensorProto.INT64, [1], [1]),
    ]
    nodes = [
        helper.make_node("Cast", ["input"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["xf", "axes2"], ["x3"]),              # [1, N, 1]
        helper.make_node("Gather", ["scales", "idx1"], ["length_scale"]),
        helper.make_node("Mul", ["x3", "k"], ["xk"]),
        helper.make_node("Div", ["xk", "length_scale"], ["xs"]),
        helper.make_node("Mul", ["xs", "ramp"], ["phase"]),                   # [1, N, hop]
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Reshape", ["wave", "shape"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "tiny_piper", [inp, lengths, scales], [out], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    ids = {"_": [0], "^": [1], "$": [2]}
    for cp in list(range(0x20, 0x250)) + list(range(0x250, 0x370)) + list(range(0x2e5, 0x2ea)):
        ch = chr(cp)
        if ch not in ids:
            ids[ch] = [len(ids)]
    cfg = {"audio": {"sample_rate": sample_rate}, "espeak": {"voice": "vi"}, "phoneme_type": "espeak",
           "num_symbols": len(ids) + 1, "num_speakers": 1, "phoneme_id_map": ids,
           "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}, "language": {"code": "vi_VN"}}
    Path(str(path) + ".json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return path
