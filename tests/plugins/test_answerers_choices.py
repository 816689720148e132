"""Reading option texts and picking the option that matches a decision."""

from plugins.answerers.choices import asked_kind, meaning, pick

DIRECTION = {"A": "moving up and to the left", "B": "moving down and to the right", "C": "not moving", "D": "there is no red ball"}


def test_meaning_of_the_generated_option_texts():
    assert meaning("moving left") == ("direction", "left")
    assert meaning("moving up and to the right") == ("direction", "up-right")
    assert meaning("moving down and to the left") == ("direction", "down-left")
    assert meaning("not moving") == ("direction", "none")
    assert meaning("there is no green car") == ("absent", None) and meaning("there are no green cars") == ("absent", None)
    assert meaning("no green car there") == ("absent", None) and meaning("no robotic arm there") == ("absent", None)  # VLM4D's phrasing
    assert meaning("not moving") == ("direction", "none")
    assert meaning("rotating counter-clockwise") == ("rotation", "counter-clockwise")
    assert meaning("rotating clockwise") == ("rotation", "clockwise") and meaning("not rotating") == ("rotation", "none")
    assert meaning("3") == ("count", 3) and meaning("two") == ("count", 2) and meaning("blue") is None


def test_pick_exact_then_nearest_of_the_same_kind():
    assert pick(DIRECTION, "direction", "up-left") == "A" and pick(DIRECTION, "absent", None) == "D"
    assert pick(DIRECTION, "direction", "none") == "C"
    assert pick(DIRECTION, "direction", "up") == "A"  # nearest heading among the options
    assert pick({"A": "0", "B": "2", "C": "5", "D": "there is no ball"}, "count", 3) == "B"
    assert pick(DIRECTION, "rotation", "clockwise") is None
    assert asked_kind(DIRECTION) == "direction" and asked_kind({"A": "1", "B": "0", "C": "3", "D": "2"}) == "count"
