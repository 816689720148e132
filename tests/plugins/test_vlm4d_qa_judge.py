import pytest

from plugins.vlm4d_qa.judge import LLMJudge, accuracy, extract_letter, judge, match_option_text, rank_by_embedding, statements
from worldsim.types.qa import AnswerRecord, QAItem

MOVE = {"A": "moving left", "B": "there is no red ball", "C": "moving right", "D": "not moving"}
SPIN = {"A": "rotating clockwise", "B": "rotating counter-clockwise", "C": "not rotating", "D": "there is no blue cube"}
COUNT = {"A": "3", "B": "0", "C": "4", "D": "2"}


def item(qid="s-translational-0", qtype="translational", question="What direction is the red ball moving?", choices=MOVE, answer="C"):
    return QAItem(id=qid, video="v.mp4", question_type=qtype, question=question, choices=choices, answer=answer)


@pytest.mark.parametrize("text,expected", [
    ("Option A is wrong because the ball ends on the right, and B cannot be, so the answer is (C).", ("C", "letter")),
    ("**C. moving right**", ("C", "letter")),
    ("Answer: c", ("C", "letter")),
    ("d", ("D", "letter")),
    ("(B)", ("B", "letter")),
    ("Final Answer: D) not moving", ("D", "letter")),
    ("The correct option is D.", ("D", "letter")),
    ("Option C is correct.", ("C", "letter")),
    ("A is tempting, but C is the correct answer.", ("C", "letter")),
    ("<think>maybe A, maybe not</think> C", ("C", "letter")),
    ("Looking at (A) first: no. The ball clearly goes right. **C**", ("C", "letter")),
    ("The answer is a red ball moving right.", ("C", "option-text")),  # 'a' is an article here, not option A
    ("moving right", ("C", "option-text")),
    ("The ball is not moving left, it is moving right.", ("C", "option-text")),
    ("It starts on the left and ends on the right, so it is moving right.", ("C", "option-text")),
    ("It is moving from left to right.", ("C", "option-text")),
    ("It drifts rightwards.", ("C", "option-text")),
    ("It stays where it is the whole time.", ("D", "option-text")),
    ("The ball is stationary.", ("D", "option-text")),
    ("The ball is not stationary; it rolls to the right.", ("C", "option-text")),
    ("The ball is not moving.", ("D", "option-text")),
    ("There is no red ball in the video.", ("B", "option-text")),
    ("None of the options fit what I see.", (None, "none-of-the-options")),
    ("I think (A) or (C).", (None, "")),
    ("I cannot tell.", (None, "")),
    ("", (None, "")),
])
def test_extract_letter_direction_choices(text, expected):
    assert extract_letter(text, MOVE) == expected


@pytest.mark.parametrize("text,expected", [
    ("counterclockwise", "B"),
    ("It rotates anticlockwise.", "B"),
    ("It spins clockwise.", "A"),
    ("The cube spins clockwise, not counter-clockwise.", "A"),
    ("it is not rotating clockwise", None),  # could mean either of two choices
    ("The cube does not turn at all.", "C"),
])
def test_longer_choice_text_wins_and_negations_do_not_count(text, expected):
    assert extract_letter(text, SPIN)[0] == expected


def test_counts_read_as_numbers():
    assert extract_letter("There are three balls.", COUNT) == ("A", "option-text")
    assert extract_letter("Answer: 4 balls", COUNT)[0] == "C"
    assert match_option_text("I count 2 balls, no wait, 4", COUNT) == (None, "")
    diag = {"A": "moving up and to the left", "B": "not moving", "C": "there is no blue truck", "D": "moving down and to the right"}
    assert match_option_text("It goes diagonally towards the top-left corner.", diag) == ("A", "option-text")
    assert match_option_text("The truck is moving down-right.", diag) == ("D", "option-text")


def test_embedding_ranking_picks_the_paraphrase():
    q = "What direction is the red ball moving?"
    assert statements(MOVE, q)["C"] == "The red ball is moving right."
    assert rank_by_embedding("it travels towards the right side", MOVE, q) == "C"
    assert rank_by_embedding("it heads leftwards", MOVE, q) == "A"
    assert rank_by_embedding("I do not see any red ball", MOVE, q) == "B"


def test_judge_free_form_and_multiple_choice():
    items = [item(), item("s-rotational-0", "rotational", "Which way is the blue cube rotating, as seen in the video?", SPIN, "B")]
    mc = judge(items, ["so the answer is C", "A"], mode="cot")
    assert [(r.letter, r.correct, r.judge, r.mode) for r in mc] == [("C", True, "letter", "cot"), ("A", False, "letter", "cot")]
    ff = judge(items, ["it travels towards the right side of the frame, drifting east", "It turns anticlockwise"], free_form=True)
    assert [(r.letter, r.correct) for r in ff] == [("C", True), ("B", True)]
    ff = judge([item()], ["it drifts to the east"], free_form=True)  # no choice words: the embedding decides
    assert (ff[0].letter, ff[0].judge, ff[0].free_form) == ("C", "embedding", True)
    assert judge([item()], ["C"], free_form=False)[0].raw == "C"
    with pytest.raises(ValueError, match="2 answers for 1 questions"):
        judge([item()], ["A", "B"])


def test_accuracy_per_category_mode_and_variant():
    rec = lambda t, m, ok, ff=False: AnswerRecord(id="x", question_type=t, mode=m, raw="", letter="A" if ok else None, correct=ok, free_form=ff)
    records = [rec("translational", "direct", True), rec("translational", "cot", False), rec("counting", "direct", True),
               rec("false_positive", "cot", True, ff=True)]
    acc = accuracy(records)
    assert acc["overall"] == 0.75 and acc["n"] == 4 and acc["unanswered"] == 1
    assert acc["per_category"] == {"translational": 0.5, "counting": 1.0, "false_positive": 1.0}
    assert acc["per_mode"] == {"direct": 1.0, "cot": 0.5}
    assert acc["per_variant"] == {"multiple_choice": round(2 / 3, 6), "free_form": 1.0}
    assert accuracy([])["overall"] is None


def test_llm_judge_with_a_fake_chat_model():
    from langchain_core.language_models import FakeListChatModel

    fake = FakeListChatModel(responses=["C", "X", "I am not sure what to say"])
    llm = LLMJudge(fake)
    records = judge([item(), item(), item()], ["it goes east", "hmm", "moving right"], llm=llm)
    assert [(r.letter, r.judge, r.correct) for r in records] == [("C", "llm", True), (None, "llm", False), ("C", "option-text", True)]


def test_llm_judge_from_config_needs_a_model():
    from worldsim.errors import ConfigError

    with pytest.raises(ConfigError, match="no model"):
        LLMJudge.from_config({})
