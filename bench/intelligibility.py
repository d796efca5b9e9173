"""How well speech is understood: word and character error rates of an offline Vietnamese speech
recogniser (viet-asr) on what each engine and voice says, clean and through a horn loudspeaker.

Run by hand (needs the bench extra: pip install -e '.[bench]'):

    python bench/intelligibility.py                  # every available engine, voice and rate
    python bench/intelligibility.py --espeak-styles  # espeak-ng's reading styles side by side
    python bench/intelligibility.py --snr 5          # street noise 5 dB under the speech

Each sentence (the sample scripts' and the fixed set below, numbers and dates included) goes
through the real build pipeline: normaliser, engine, sentence trimming, loudness to -16 LUFS and
the true-peak limit, written as WAV. The recogniser's text and the spoken reference are both put
through broadcaster's normaliser (so "8 giờ" and "tám giờ" compare equal), lower-cased, tone
placement made uniform and punctuation removed, then compared (jiwer). The recogniser is a
yardstick, not a listener: it favours fast speech, which people under a horn do not.

"Through the horn" is a simulation of an outdoor loudspeaker heard in a street: a band-pass of
300-4,000 Hz (4th order), an echo 120 ms later at -8 dB and another 260 ms later at -14 dB (the
next horn down the road, house fronts), and street noise (brown noise with a little white, i.e.
traffic rumble and hiss, the same seeded noise for every voice) at the stated SNR, whole-band.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from broadcaster.config import AudioSettings, TTSSettings  # noqa: E402
from broadcaster.render.build import render_audio  # noqa: E402
from broadcaster.render.speech import SentenceCache, Speaker  # noqa: E402
from broadcaster.text.reading import spoken_paragraphs  # noqa: E402
from broadcaster.text.scripts import Script, read_script, split_paragraphs  # noqa: E402
from broadcaster.text.textnorm import normalize  # noqa: E402
from broadcaster.text.textnorm.unicode import repair  # noqa: E402

# Announcements of the kinds a commune airs, with the numbers, dates, times and acronyms they carry.
OWN = """\
Ủy ban nhân dân xã thông báo lịch tiêm vắc xin phòng bệnh dại cho chó, mèo vào ngày 15/3/2025.
Thời gian từ 7 giờ 30 phút đến 11 giờ, tại nhà văn hóa thôn Đông.
Đề nghị các hộ gia đình đưa vật nuôi đến đúng giờ, mang theo sổ tiêm phòng.
Do ảnh hưởng của bão số 3, từ 14 giờ ngày 6/9 sẽ có mưa to đến rất to.
Bà con không ra khơi, không đánh bắt thủy sản trên sông trong hai ngày tới.
Trạm y tế xã tổ chức khám sức khỏe miễn phí cho người cao tuổi vào sáng thứ Bảy.
Mức thu bảo hiểm y tế hộ gia đình năm nay là 1.263.600 đồng một người.
Mọi thắc mắc xin liên hệ số điện thoại 0234 3551 116 trong giờ hành chính.
Hội Liên hiệp Phụ nữ xã phát động phong trào năm không ba sạch trong toàn xã.
Công an xã đề nghị thanh niên đủ 18 tuổi đến đăng ký nghĩa vụ quân sự trước ngày 30/4.
Điện lực thông báo tạm ngừng cung cấp điện từ 8 giờ đến 16 giờ 30 phút ngày 12/10.
Đề nghị bà con chủ động phòng chống sốt xuất huyết, diệt lăng quăng, bọ gậy quanh nhà.
"""

ESPEAK_VOICES = (("vi", "Northern"), ("vi-vn-x-central", "Central"), ("vi-vn-x-south", "Southern"))
RATES = (0.9, 1.0)


def sentences() -> list[str]:
    texts = [t for p in sorted((REPO / "scripts").glob("*.txt"))
             for par in spoken_paragraphs(read_script(p)) for t in par]
    own = spoken_paragraphs(Script(Path("own.txt"), "utf-8", split_paragraphs(OWN.replace("\n", "\n\n"))))
    return texts + [t for par in own for t in par]


def canon(text: str) -> str:
    """Both sides alike: normalised (digits to words), lower case, one tone placement, no punctuation."""
    spoken = normalize(repair(text)).lower()
    return " ".join(re.findall(r"[^\W_]+", spoken))


def horn(samples: np.ndarray, rate: int, snr_db: float, seed: int = 7) -> np.ndarray:
    from scipy.signal import butter, sosfilt
    sos = butter(4, [300, 4000], btype="bandpass", fs=rate, output="sos")
    x = sosfilt(sos, samples)
    out = x.copy()
    for delay, gain_db in ((0.120, -8), (0.260, -14)):
        d = int(delay * rate)
        out[d:] += x[:-d] * 10 ** (gain_db / 20)
    rng = np.random.default_rng(seed)
    brown = np.cumsum(rng.standard_normal(len(out)))
    brown -= np.convolve(brown, np.ones(rate // 10) / (rate // 10), mode="same")  # no drift
    noise = brown / (np.std(brown) + 1e-12) + 0.3 * rng.standard_normal(len(out))
    speech_power = np.mean(out[np.abs(out) > 1e-4] ** 2)
    noise *= np.sqrt(speech_power / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    mixed = out + noise
    return mixed / max(1.0, np.abs(mixed).max())


class Listener:
    def __init__(self):
        import vietasr
        self.pipe = vietasr.Pipeline.preset("transcribe")

    def __call__(self, samples: np.ndarray, rate: int) -> str:
        from scipy.signal import resample_poly
        x = resample_poly(samples, 16000, rate) if rate != 16000 else samples
        pcm = np.clip(x * 32767, -32768, 32767).astype(np.int16)
        return self.pipe.transcribe(pcm, sample_rate=16000.0).text


def render(text: str, tts: TTSSettings, speaker: Speaker, folder: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf
    audio = AudioSettings(format="wav", sample_rate=22050, repeat=1)
    target = folder / "s.wav"
    render_audio([[text]], tts, audio, speaker=speaker, jingle_in=None, jingle_out=None, target=target, tags={})
    data, rate = sf.read(str(target), dtype="float32")
    return data, rate


def score(label: str, tts: TTSSettings, speaker: Speaker, texts: list[str], listener: Listener,
          folder: Path, snr: float, show: int) -> dict:
    import jiwer
    refs, clean, noisy, seconds = [], [], [], 0.0
    for i, text in enumerate(texts):
        samples, rate = render(text, tts, speaker, folder)
        seconds += len(samples) / rate
        refs.append(canon(text))
        clean.append(canon(listener(samples, rate)) or "-")
        noisy.append(canon(listener(horn(samples, rate, snr), rate)) or "-")
        if i < show:
            print(f"      ref:   {refs[-1]}\n      clean: {clean[-1]}\n      horn:  {noisy[-1]}")
    words = sum(len(r.split()) for r in refs)
    return {"label": label, "wer": jiwer.wer(refs, clean), "cer": jiwer.cer(refs, clean),
            "wer_horn": jiwer.wer(refs, noisy), "cer_horn": jiwer.cer(refs, noisy),
            "pace": words / seconds * 60}


def candidates(espeak_styles: bool) -> list[tuple[str, TTSSettings, dict]]:
    from broadcaster.engines import create_engine, engine_names
    from broadcaster.engines.espeak import STYLES
    out = []
    for name in sorted(engine_names()):
        eng = create_engine(name, **({"voices_dir": REPO / "voices"} if name == "piper" else {}))
        reason = eng.unavailable_reason()
        if reason:
            print(f"  {name}: not measured ({reason})")
            continue
        if name == "espeak":
            styles = STYLES if espeak_styles else {"default": STYLES["default"]}
            for style in styles:
                for voice, accent in ESPEAK_VOICES:
                    for rate in RATES:
                        out.append((f"espeak {accent:<8} {style:<10} rate {rate:.2f}",
                                    TTSSettings(engines=("espeak",), voice=voice, rate=rate), {"style": style}))
            continue
        for v in eng.voices():
            for rate in RATES:
                shown = Path(v.id).stem if v.id.endswith(".onnx") else v.id
                out.append((f"{name} {shown} rate {rate:.2f}", TTSSettings(engines=(name,), voice=v.id, rate=rate), {}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snr", type=float, default=10.0, help="street noise under the speech, dB (default 10)")
    ap.add_argument("--espeak-styles", action="store_true", help="every espeak-ng reading style, not only the default")
    ap.add_argument("--only", help="measure only the labels this regular expression finds")
    ap.add_argument("--show", type=int, default=0, help="print the first N transcripts of each voice")
    args = ap.parse_args()
    texts = sentences()
    print(f"{len(texts)} sentences, {sum(len(canon(t).split()) for t in texts)} words; "
          f"horn: 300-4000 Hz, echoes 120/260 ms, street noise at {args.snr:g} dB SNR")
    listener = Listener()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, tts, options in candidates(args.espeak_styles):
            if args.only and not re.search(args.only, label):
                continue
            speaker = Speaker(SentenceCache(REPO / "state" / "cache"), engine_options={"espeak": options},
                              root=REPO)
            t0 = time.monotonic()
            print(f"  {label} ...", flush=True)
            row = score(label, tts, speaker, texts, listener, folder, args.snr, args.show)
            rows.append(row)
            print(f"    WER {row['wer']:.3f}  CER {row['cer']:.3f}  horn: WER {row['wer_horn']:.3f}  "
                  f"CER {row['cer_horn']:.3f}  pace {row['pace']:.0f} words/min  ({time.monotonic() - t0:.0f} s)")
    print("\n| engine, voice, style, rate | WER clean | CER clean | WER horn | CER horn | words/min |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['label']} | {r['wer']:.3f} | {r['cer']:.3f} | {r['wer_horn']:.3f} | {r['cer_horn']:.3f} "
              f"| {r['pace']:.0f} |")


if __name__ == "__main__":
    main()
