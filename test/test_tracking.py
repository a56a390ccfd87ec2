"""Plate tracks and their reading by vote (lpr.tracking): no video, no nets."""
import pytest

from LPRNet.reading import Recognition, vote
from lpr.pipeline import Plate
from lpr.tracking import (PlateTracker, Track, TrackRead, distinct_plates, read_track, report_reading,
                          track_record)


def plate(text="皖A12345", confidence=0.9, box=(100.0, 100.0, 220.0, 140.0), score=0.99, chars=None):
    return Plate(tuple(box), score, text, confidence, tuple(chars or [confidence] * len(text)), "blue", "single",
                 ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])))


def reads(*texts_and_confidences):
    return [TrackRead(k, k / 10, plate(t, c)) for k, (t, c) in enumerate(texts_and_confidences)]


def test_the_text_most_frames_read_wins_and_the_votes_are_counted():
    track = reads(("皖A12345", 0.6), ("皖A12346", 0.99), ("皖A12345", 0.7), ("皖A1234", 0.99),  # 6 chars: invalid
                  ("皖A12346", 0.98), ("皖A12345", 0.65))
    r = read_track(track)
    assert r.text == "皖A12345" and r.valid
    assert r.votes == {"皖A12345": 3, "皖A12346": 2}           # the invalid read does not vote
    assert list(r.votes) == ["皖A12345", "皖A12346"]            # most votes first
    assert r.best.frame == 2 and r.confidence == pytest.approx(0.7)  # the winner's most confident read


def test_the_track_vote_is_the_toolkit_rule():
    # a tie in reads goes to the higher summed confidence, as LPRNet.reading.vote decides for the second look
    track = reads(("皖A12345", 0.5), ("皖A12346", 0.9), ("皖A12345", 0.5), ("皖A12346", 0.8))
    recognitions = [Recognition(r.plate.text, r.plate.confidence, r.plate.char_confidences) for r in track]
    assert read_track(track).text == vote(recognitions[0], recognitions[1:]).text == "皖A12346"
    # a full tie goes to the text read first
    assert read_track(reads(("皖A12346", 0.5), ("皖A12345", 0.5))).text == "皖A12346"


def test_agreement_is_the_share_of_valid_reads_with_each_character():
    r = read_track(reads(("皖A12345", 0.9), ("皖A12345", 0.9), ("皖A12346", 0.9), ("苏A12345", 0.9)))
    assert r.text == "皖A12345"
    assert r.agreement == pytest.approx((0.75, 1, 1, 1, 1, 1, 0.75))


def test_a_track_without_valid_read_is_its_most_confident_read_marked_invalid():
    r = read_track(reads(("皖A1234", 0.4), ("A12345", 0.8)))
    assert (r.text, r.valid, r.votes, r.agreement) == ("A12345", False, {}, ())
    assert r.best.frame == 1


def test_min_confidence_keeps_unsure_reads_out_of_the_vote():
    track = reads(("皖A12346", 0.3), ("皖A12346", 0.4), ("皖A12345", 0.95))
    assert read_track(track).text == "皖A12346"
    assert read_track(track, min_confidence=0.5).votes == {"皖A12345": 1}
    assert read_track(track, min_confidence=0.99) is None


def test_a_track_is_reported_from_min_reads_valid_reads():
    one = Track(1, reads(("皖A12345", 0.9), ("X", 0.9)))
    assert report_reading(one, min_reads=2) is None
    assert report_reading(one, min_reads=1).text == "皖A12345"
    invalid = Track(2, reads(("X", 0.9), ("Y", 0.8)))
    assert report_reading(invalid, min_reads=2) is None
    assert report_reading(invalid, all_reads=True, min_reads=2).valid is False


def test_identical_frames_of_one_plate_are_one_track():
    # the example: 30 identical frames of one plate gave 6 per-frame records
    tracker = PlateTracker(timeout=1.0, fps=25)
    ids = set()
    for k in range(30):
        joined, ended = tracker.update(k, k / 25, [plate()])
        assert ended == [] and len(joined) == 1
        ids.add(joined[0][0].track_id)
    assert ids == {1}
    [track] = tracker.flush()
    assert len(track.reads) == 30 and (track.first.frame, track.last.frame) == (0, 29)
    assert report_reading(track).votes == {"皖A12345": 30}
    assert tracker.flush() == []


def test_a_track_ends_once_unseen_for_the_timeout_in_video_time():
    tracker = PlateTracker(timeout=1.0, fps=10)
    for k in range(6):                                  # seen until 0.5 s
        tracker.update(k, k / 10, [plate()])
    for k in range(6, 15):                              # unseen up to 1.4 s: 0.9 s, still open
        assert tracker.update(k, k / 10, [])[1] == []
    assert [t.track_id for t in tracker.open_tracks] == [1]
    joined, ended = tracker.update(16, 1.6, [])         # unseen 1.1 s: ended
    assert [t.track_id for t in ended] == [1] and ended[0].last.frame == 5
    assert tracker.open_tracks == []
    joined, _ = tracker.update(17, 1.7, [plate()])      # the plate again: a new track
    assert joined[0][0].track_id == 2


def test_a_plate_back_within_the_timeout_continues_its_track():
    tracker = PlateTracker(timeout=1.0, fps=10)
    for k in range(5):
        tracker.update(k, k / 10, [plate()])
    for k in range(5, 12):                               # 0.8 s unseen (a blurred run, an occlusion)
        tracker.update(k, k / 10, [])
    joined, ended = tracker.update(12, 1.2, [plate()])
    assert ended == [] and joined[0][0].track_id == 1 and len(joined[0][0].reads) == 6


def test_plates_moving_side_by_side_keep_their_tracks():
    tracker = PlateTracker(timeout=1.0, fps=5)
    for k in range(12):                                  # two lanes, moving down 15 px a frame, 0.2 s apart
        y = 60 + 15 * k
        a = plate("皖A12345", box=(100, y, 200, y + 32))
        b = plate("苏B54321", box=(330, y + 5, 430, y + 37))
        joined, _ = tracker.update(k, k / 5, [a, b])
        assert {t.track_id: p.text for t, p in joined} == {1: "皖A12345", 2: "苏B54321"}
    assert [report_reading(t).text for t in tracker.flush()] == ["皖A12345", "苏B54321"]


def test_a_plate_whose_box_jumped_continues_the_lost_track_its_text_identifies():
    tracker = PlateTracker(timeout=1.0, fps=5)
    for k in range(3):
        tracker.update(k, k / 5, [plate("皖A12345", box=(100, 50, 200, 80))])
    # the next sampled frame finds it far below (a fast car): no box overlap, the same text
    joined, _ = tracker.update(3, 0.6, [plate("皖A12345", box=(300, 280, 420, 316))])
    assert [t.track_id for t, _ in joined] == [1] and len(joined[0][0].reads) == 4
    # another text there is another plate
    joined, _ = tracker.update(4, 0.8, [plate("苏B54321", box=(40, 10, 140, 40))])
    assert [t.track_id for t, _ in joined] == [2]


def test_overlapping_boxes_of_one_frame_are_one_plate_the_valid_read_kept():
    good = plate("皖A12345", score=0.8)
    worse = plate("皖A1234", score=0.99, box=(102, 101, 221, 141))   # invalid, same place
    other = plate("苏B54321", box=(400, 100, 520, 140))
    assert distinct_plates([worse, good, other]) == [good, other]


def test_track_record_fields():
    track = Track(7, [TrackRead(10, 0.4, plate(confidence=0.8)), TrackRead(15, 0.6, plate(confidence=0.95)),
                      TrackRead(20, 0.8, plate("皖A12346", 0.99))])
    r = track_record(track, read_track(track.reads), "clip.mp4")
    assert r["video"] == "clip.mp4" and r["track_id"] == 7 and r["text"] == "皖A12345" and r["valid"] is True
    assert r["votes"] == {"皖A12345": 2, "皖A12346": 1} and r["frames_read"] == 3
    assert (r["first_frame"], r["last_frame"], r["first_time"], r["last_time"]) == (10, 20, 0.4, 0.8)
    assert r["best_frame"] == 15 and r["confidence"] == 0.95
    assert r["box"] == [100.0, 100.0, 220.0, 140.0] and len(r["corners"]) == 4
    assert (r["colour"], r["layout"]) == ("blue", "single")
    assert r["agreement"] == pytest.approx([1, 1, 1, 1, 1, 1, 2 / 3], abs=1e-4)


def test_bad_tracker_settings_are_refused():
    with pytest.raises(ValueError):
        PlateTracker(timeout=0)
    with pytest.raises(ValueError):
        PlateTracker(fps=0)
