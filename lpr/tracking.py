"""Plate tracks across video frames, and the reading of each track by a vote of its frames (no I/O).

* :class:`PlateTracker` links each frame's plates (:class:`lpr.pipeline.Plate`) to tracks with
  ByteTrack (``trackers.ByteTrackTracker``: a Kalman filter on each plate's box and matching by the
  IoU of buffered boxes, detections with a low score matched only to tracks that already exist) on
  the frame's time in seconds, lets a plate whose box jumped continue the lost track its text
  identifies, and ends a track when its plate has not been seen for ``timeout`` seconds of video.
* :func:`read_track` reads a track: the valid reads of its frames vote with the toolkit's one rule,
  :func:`LPRNet.reading.vote` (the text the most frames read wins; a tie goes to the higher summed
  confidence, a full tie to the text read first), with the votes counted and the agreement of the
  voters on each character of the winning text.
* :func:`track_record` is a finished track as the JSON-ready record ``python -m lpr.video`` writes.

The tracker library comes with the ``video`` extra (``pip install 'mtcnn-lprnet[video]'``; it is in
``requirements.txt``); only :class:`PlateTracker` needs it, and imports it when made.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ccpd.plates import is_valid_text
from lpr.pipeline import Plate
from LPRNet.reading import Recognition, vote

#: Seconds a track lives on without its plate (``--track-timeout``).
#: Measured: docs/video.md#choosing-the-defaults
TRACK_TIMEOUT = 1.0
#: Fewest valid reads a track needs to be reported (``--min-track-reads``).
#: Measured: docs/video.md#choosing-the-defaults
MIN_TRACK_READS = 2
#: ByteTrack matches a plate to a track by the IoU of their boxes each grown by this share of its
#: width and height on every side (``trackers.BIoU``): plates are small and move far between sampled
#: frames. Measured: docs/video.md#choosing-the-defaults
MATCH_BUFFER = 1.0
#: Two boxes of one frame that overlap more than this (IoU) are one plate (the better is kept).
SAME_PLATE_IOU = 0.5


@dataclass(frozen=True)
class TrackRead:
    """One frame's read of a tracked plate.

    Attributes:
        frame: the frame's index in the video (or, for a live stream, among the frames received).
        time: the frame's time in seconds of video.
        plate: what the reader found there (box and corners in the frame's pixels).
    """

    frame: int
    time: float
    plate: Plate


@dataclass
class Track:
    """A plate followed across frames.

    Attributes:
        track_id: its number, 1, 2, ... in the order tracks start (per video).
        reads: its frames' reads, in frame order (at least one).
    """

    track_id: int
    reads: List[TrackRead] = field(default_factory=list)

    @property
    def first(self) -> TrackRead:
        return self.reads[0]

    @property
    def last(self) -> TrackRead:
        return self.reads[-1]


@dataclass(frozen=True)
class TrackReading:
    """What a track reads (:func:`read_track`).

    Attributes:
        text: the winning text (valid), or, when no read of the track is valid, its most confident
            read (``valid`` False).
        valid: whether ``text`` follows a plate rule.
        confidence: the confidence of ``best``'s read (its least sure character's probability), in [0, 1].
        votes: each valid text read and the number of frames that read it, most votes first.
        agreement: per character of ``text``, the share of the valid reads that have that character
            at that place, in [0, 1] (empty when ``valid`` is False).
        best: the read that won: the most confident read of the winning text (its frame is the
            track's best frame).
    """

    text: str
    valid: bool
    confidence: float
    votes: Dict[str, int]
    agreement: Tuple[float, ...]
    best: TrackRead


def _recognition(plate: Plate) -> Recognition:
    return Recognition(plate.text, plate.confidence, tuple(plate.char_confidences), plate.colour, plate.layout)


def read_track(reads: Sequence[TrackRead], min_confidence: float = 0.0) -> Optional[TrackReading]:
    """The reading of a track: the vote of its reads (:func:`LPRNet.reading.vote`).

    Only reads with a confidence at or above ``min_confidence`` (in [0, 1]) take part; of those, only
    the valid ones vote (the rule's own). The reads' order is the frames' order, so a full tie goes to
    the text read first.

    Returns:
        The :class:`TrackReading`, or ``None`` when no read is at ``min_confidence`` or above.
    """
    voters = [r for r in reads if r.plate.confidence >= min_confidence]
    if not voters:
        return None
    recognitions = [_recognition(r.plate) for r in voters]
    winner = vote(recognitions[0], recognitions[1:])
    if not is_valid_text(winner.text):  # no valid read: the most confident one stands for the track
        best = max(voters, key=lambda r: r.plate.confidence)
        return TrackReading(best.plate.text, False, float(best.plate.confidence), {}, (), best)
    best = voters[next(i for i, r in enumerate(recognitions) if r is winner)]
    valid = [r.plate.text for r in voters if is_valid_text(r.plate.text)]
    counts: Dict[str, int] = {}
    for text in valid:
        counts[text] = counts.get(text, 0) + 1
    votes = dict(sorted(counts.items(), key=lambda kv: -kv[1]))  # stable: ties keep the order first read
    agreement = tuple(sum(len(t) > i and t[i] == ch for t in valid) / len(valid) for i, ch in enumerate(winner.text))
    return TrackReading(winner.text, True, float(winner.confidence), votes, agreement, best)


def report_reading(track: Track, min_confidence: float = 0.0, all_reads: bool = False,
                   min_reads: int = MIN_TRACK_READS) -> Optional[TrackReading]:
    """The reading of a finished track when it is worth a record, else ``None``.

    A track is reported when at least ``min_reads`` of its reads at ``min_confidence`` or above are
    valid (they vote, :func:`read_track`); with ``all_reads``, also a track of at least ``min_reads``
    frames whose reads are all invalid (its reading's ``valid`` is False).
    """
    reading = read_track(track.reads, min_confidence)
    if reading is None:
        return None
    if sum(reading.votes.values()) >= min_reads or (all_reads and len(track.reads) >= min_reads):
        return reading
    return None


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a[N, 4]`` with every box of ``b[M, 4]`` (x1, y1, x2, y2 pixels) -> ``[N, M]``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def distinct_plates(plates: Sequence[Plate], iou: float = SAME_PLATE_IOU) -> List[Plate]:
    """One plate per place: of boxes of one frame that overlap by more than ``iou``, only the best is
    kept (a valid read before an invalid one, then the higher detection score), in the order given."""
    order = sorted(range(len(plates)), key=lambda i: (not plates[i].valid, -plates[i].score))
    kept: List[int] = []
    for i in order:
        if not kept or box_iou(np.float32([plates[i].box]), np.float32([plates[j].box for j in kept])).max() <= iou:
            kept.append(i)
    return [plates[i] for i in sorted(kept)]


class PlateTracker:
    """Links the plates of successive frames into tracks (ByteTrack on the plate boxes).

    Feed it every sampled frame, in order, with :meth:`update`; it returns which track each plate
    joined and the tracks that ended. A track ends when its plate was last seen more than ``timeout``
    seconds of video before the frame being added; :meth:`flush` ends the rest (end of the video).

    ByteTrack matches boxes only: when a plate's box jumps further than its motion model and buffer
    reach (a fast car between two sampled frames), ByteTrack starts a new tracklet; when that
    plate's read is valid and is the vote so far of a track not seen in this frame (and not ended),
    the plate continues that track instead (its text identifies it).

    Args:
        timeout: seconds of video a track waits for its plate, > 0.
        fps: frames per second that :meth:`update` is expected to get (the sampled rate), > 0; it
            scales ByteTrack's motion model (the times given to :meth:`update` decide the rest).
        min_iou: least IoU of a plate's box with a track's predicted box for the two to match, in (0, 1).
        new_track_score: least detection score for a plate to start a track, in [0, 1]; a plate under
            ``match_score`` can only continue a track.
        match_score: detection score from which a plate is matched first (ByteTrack's high-score
            stage), in [0, 1].
        buffer: each box is grown by this share of its width and height on every side before the
            IoU is taken (``trackers.BIoU``; 0: plain IoU), >= 0.

    Raises:
        ValueError: a value out of range.
        ImportError: the tracker library is not installed (the message says how to install it).
    """

    def __init__(self, timeout: float = TRACK_TIMEOUT, fps: float = 5.0, min_iou: float = 0.1,
                 new_track_score: float = 0.5, match_score: float = 0.6, buffer: float = MATCH_BUFFER):
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout}")
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be > 0, got {fps}")
        if not 0 < min_iou < 1:
            raise ValueError(f"min_iou must be in (0, 1), got {min_iou}")
        if not buffer >= 0:
            raise ValueError(f"buffer must be >= 0, got {buffer}")
        try:
            from trackers import BIoU, ByteTrackTracker
        except ImportError as e:
            raise ImportError(f"tracking plates in videos needs the trackers package ({e}): "
                              "pip install 'mtcnn-lprnet[video]' (or pip install -r requirements.txt)") from e
        self.timeout = float(timeout)
        # ByteTrack keeps a lost track for lost_track_buffer / 30 seconds; a little longer than ours,
        # so that our timeout, on video time, decides when a track ends.
        self._byte = ByteTrackTracker(lost_track_buffer=int(math.ceil(self.timeout * 30)) + 1, frame_rate=float(fps),
                                      track_activation_threshold=new_track_score, minimum_consecutive_frames=1,
                                      minimum_iou_threshold=min_iou, high_conf_det_threshold=match_score,
                                      iou=BIoU(buffer) if buffer else None)
        # our open tracks by their ByteTrack tracklet (id(tracklet) -> (tracklet, track)): a track opens
        # with the plate that starts a tracklet (ByteTrack numbers a tracklet from its second frame on)
        self._open: Dict[int, Tuple[object, Track]] = {}
        self._gone: List[Track] = []  # tracks whose tracklet ByteTrack dropped, waiting for our timeout
        self._next_id = 1
        self._last_time: Optional[float] = None

    @property
    def open_tracks(self) -> List[Track]:
        """The tracks not ended yet, by track id."""
        return sorted([track for _, track in self._open.values()] + self._gone, key=lambda t: t.track_id)

    def update(self, frame: int, time: float, plates: Sequence[Plate]) -> Tuple[List[Tuple[Track, Plate]], List[Track]]:
        """Add one frame's plates.

        Args:
            frame: the frame's index.
            time: its time in seconds of video; must not go back (a frame at or before the previous
                frame's time is taken as 1 ms after it).
            plates: its plates (best first; boxes in pixels), e.g. :func:`distinct_plates` of the reader's.

        Returns:
            ``(joined, ended)``: each plate that joined a track, with its track (a plate that neither
            continues a track nor is sure enough to start one is left out), and the tracks that ended
            before this frame, by their last frame.
        """
        import supervision as sv

        time = float(time)
        if self._last_time is not None and time <= self._last_time:
            time = self._last_time + 1e-3
        self._last_time = time
        ended = [track for _, track in self._open.values() if time - track.last.time > self.timeout]
        ended += [track for track in self._gone if time - track.last.time > self.timeout]
        self._gone = [track for track in self._gone if track not in ended]
        self._open = {k: (tl, track) for k, (tl, track) in self._open.items() if track not in ended}
        if plates:
            detections = sv.Detections(xyxy=np.float32([p.box for p in plates]).reshape(-1, 4),
                                       confidence=np.float32([p.score for p in plates]),
                                       data={"index": np.arange(len(plates))})
        else:
            detections = sv.Detections.empty()
        tracked = self._byte.update(detections, timestamp=time)
        numbered = {t.tracker_id: t for t in self._byte.tracks if t.tracker_id >= 0}
        joined: List[Tuple[Track, Plate]] = []
        for index, byte_id in zip(tracked.data.get("index", np.zeros(0, int)), tracked.tracker_id):
            plate = plates[int(index)]
            tracklet = numbered.get(int(byte_id)) if byte_id >= 0 else self._spawned(plate)
            if tracklet is None:  # a plate too unsure to start a track, matching none
                continue
            if id(tracklet) not in self._open:
                lost = self._lost_with_text(plate.text, time) if plate.valid else None
                if lost is not None:  # the box jumped, the text did not: the lost track goes on
                    self._open = {k: v for k, v in self._open.items() if v[1] is not lost}
                    self._gone = [t for t in self._gone if t is not lost]
                    self._open[id(tracklet)] = (tracklet, lost)
                else:
                    self._open[id(tracklet)] = (tracklet, Track(self._next_id))
                    self._next_id += 1
            track = self._open[id(tracklet)][1]
            track.reads.append(TrackRead(int(frame), time, plate))
            joined.append((track, plate))
        alive = {id(t) for t in self._byte.tracks}
        for key in [k for k in self._open if k not in alive]:  # ByteTrack let it go: ours ends on our timeout
            tracklet, track = self._open.pop(key)
            self._gone.append(track)
        joined.sort(key=lambda tp: tp[0].track_id)
        return joined, sorted(ended, key=lambda t: (t.last.time, t.track_id))

    def _lost_with_text(self, text: str, time: float) -> Optional[Track]:
        """The open track not seen at ``time`` whose vote so far is ``text`` (the last seen, if several)."""
        lost = [t for t in self.open_tracks if t.last.time < time and (r := read_track(t.reads)) is not None
                and r.valid and r.text == text]
        return max(lost, key=lambda t: t.last.time) if lost else None

    def _spawned(self, plate: Plate):
        """The ByteTrack tracklet that ``plate`` just started (not numbered yet), or ``None``."""
        box = np.float64(plate.box)
        for tracklet in self._byte.tracks:
            if (tracklet.tracker_id == -1 and tracklet.time_since_update == 0
                    and np.allclose(tracklet.get_state_bbox(), box, atol=1e-2)):
                return tracklet
        return None

    def flush(self) -> List[Track]:
        """End every open track (the video ended or stopped); returns them by their last frame."""
        ended = sorted([track for _, track in self._open.values()] + self._gone, key=lambda t: (t.last.time, t.track_id))
        self._open.clear()
        self._gone.clear()
        return ended


def track_record(track: Track, reading: TrackReading, video: str) -> dict:
    """The JSON-ready record of a finished track::

        {"video": NAME, "track_id": 3, "text": "皖A12345", "valid": true, "confidence": 0.98,
         "votes": {"皖A12345": 5, "皖A12845": 1}, "agreement": [1.0, 1.0, 1.0, 0.8333, ...],
         "frames_read": 7, "first_frame": 40, "last_frame": 70, "first_time": 1.6, "last_time": 2.8,
         "best_frame": 55, "box": [x1, y1, x2, y2], "corners": [[x, y], ...], "score": 0.99,
         "char_confidences": [...], "colour": "blue", "layout": "single"}

    ``frames_read`` counts the track's frames (valid reads or not), ``votes`` the valid reads;
    ``first_time``/``last_time`` are seconds of video (3 decimals); ``best_frame`` is the frame of
    ``reading.best`` and ``box``, ``corners`` (when known), ``score``, ``char_confidences``, ``colour``
    and ``layout`` (when known) are its plate's (:meth:`lpr.pipeline.Plate.to_json`).
    """
    plate = reading.best.plate.to_json()
    record = {"video": video, "track_id": track.track_id, "text": reading.text, "valid": reading.valid,
              "confidence": round(reading.confidence, 4), "votes": reading.votes,
              "agreement": [round(a, 4) for a in reading.agreement], "frames_read": len(track.reads),
              "first_frame": track.first.frame, "last_frame": track.last.frame,
              "first_time": round(track.first.time, 3), "last_time": round(track.last.time, 3),
              "best_frame": reading.best.frame, "box": plate["box"]}
    for key in ("corners", "score", "char_confidences", "colour", "layout"):
        if key in plate:
            record[key] = plate[key]
    return record
