"""The reader's configuration: what :class:`lpr.pipeline.PlateReader` does, as dataclasses with
defaults and validation.

:class:`ReaderConfig` holds the detector's thresholds (:class:`MTCNN.cascade.DetectorConfig`) and the
reading options (:class:`ReadingOptions`). Where the weights are and which backend runs them are
arguments of the reader itself, not part of the configuration. The command line builds a
:class:`ReaderConfig` from its options (:mod:`lpr.options`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from LPRNet.crops import SECOND_LOOK_BELOW
from MTCNN.cascade import DetectorConfig


@dataclass
class ReadingOptions:
    """Which reads the reader returns and how hard it tries.

    Attributes:
        min_confidence: drop reads whose confidence (the lowest character probability) is below
            this, in [0, 1]; 0 keeps every valid read (``python -m lpr.evaluate`` on labelled photos
            prints accuracy and extra reads at several thresholds to choose from).
        all_reads: return every box with its text (at ``min_confidence`` or above), also texts that
            follow no plate rule and repeated texts (``Plate.valid`` tells them apart).
        second_look: a plate whose first read follows no plate rule or is less confident than
            ``second_look_below`` is cut 4 more times, a little larger and smaller, and the cuts vote
            on its text (:meth:`LPRNet.reading.Recognizer.second_look`); off: one cut a plate.
        second_look_below: the confidence in [0, 1] at or above which a valid first read is kept
            without a second look; 1: every plate is cut again, 0: only reads that follow no rule.
        fine_retry: when no plate of a photo reads a valid text, search it again for smaller plates:
            pyramid levels up to :data:`lpr.pipeline.FINE_RETRY_SIDE` pixels instead of
            ``DetectorConfig.max_level_side`` (nothing to do when that is 0 or the photo is small).
        rotated_retry: when still no plate reads a valid text, detect again on the photo
            rotated (:data:`lpr.pipeline.ROTATED_RETRY_ANGLES`); costs time only on such photos,
            which include every photo with no plate at all.
        stretched_retry: when a photo still has no valid read, detect again on it stretched along x
            (:data:`lpr.pipeline.STRETCH_RETRY_FACTORS`), for plates seen from the side.
        contrast_retry: when a dark photo (:func:`lpr.pipeline.is_dark`, night) still has no valid
            read, search and read it again with its contrast equalised (:meth:`lpr.pipeline.PlateReader.retry_contrast`).
        time_budget_ms: milliseconds a photo may take (0: no budget). The first pass always runs;
            a retry runs only when the time already spent on the photo plus the retry's expected
            time (the first pass's detection time for each photo-sized detector pass it makes)
            fits in the budget, so a photo with no plate costs about one pass more instead of four.

    Raises:
        ValueError: ``min_confidence`` or ``second_look_below`` outside [0, 1], or
            ``time_budget_ms`` negative.
    """

    min_confidence: float = 0.0
    all_reads: bool = False
    second_look: bool = True
    second_look_below: float = SECOND_LOOK_BELOW
    fine_retry: bool = True
    rotated_retry: bool = True
    stretched_retry: bool = True
    contrast_retry: bool = True
    time_budget_ms: float = 0.0

    def __post_init__(self):
        for name in ("min_confidence", "second_look_below"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:  # also refuses NaN
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if not self.time_budget_ms >= 0.0:  # also refuses NaN
            raise ValueError(f"time_budget_ms must be >= 0 (0: no budget), got {self.time_budget_ms}")


@dataclass
class ReaderConfig:
    """Everything that decides what the reader finds and reads.

    Attributes:
        detector: the detector's thresholds and limits (:class:`MTCNN.cascade.DetectorConfig`).
        reading: which reads are returned and the second look and retries (:class:`ReadingOptions`).

    Raises:
        TypeError: a part is not of its class (e.g. a ``dict``).
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    reading: ReadingOptions = field(default_factory=ReadingOptions)

    def __post_init__(self):
        for name, kind in (("detector", DetectorConfig), ("reading", ReadingOptions)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"ReaderConfig.{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
