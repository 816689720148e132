"""Judging answers to VLM4D questions without a paid LLM, and accuracy over the judgements.

- Multiple choice: `extract_letter` reads the chosen letter from an answer, chain-of-thought included:
  an explicit conclusion ("so the answer is (C)", "Answer: c", "**C. moving right**") wins over letters
  merely mentioned while reasoning ("Option A is wrong ..."); an answer without a letter is matched against
  the choices' texts (negated mentions such as "not moving left" do not count; a longer choice text beats
  one it contains, "counter-clockwise" over "clockwise").
- Free form: the choice texts are matched the same way, else the choices are ranked by MiniLM sentence
  embedding similarity to the answer (`rank_by_embedding`).
- Optional `LLMJudge`: any LangChain chat model reads the answer and names the letter.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from worldsim.types.qa import PROMPT_MODES, QUESTION_TYPES, AnswerRecord, QAItem

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel

NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
                "fourteen": "14", "fifteen": "15", "sixteen": "16"}
TOWARDS = {"left": "left", "right": "right", "top": "up", "bottom": "down", "up": "up", "down": "down"}
# "from (the) left to (the) right" names only where it goes
FROM_TO = re.compile(r"\bfrom (?:the )?(?:left|right|top|bottom)(?: side)? (?:to|towards|toward) (?:the )?(left|right|top|bottom)\b")
# Everyday words for what the choice texts say (applied after lower-casing and punctuation removal).
SYNONYMS = [(re.compile(p), r) for p, r in (
    (r"\b(?:does not|doesn't|did not|didn't|do not|don't) (?:rotate|spin|turn)\b|\bnot (?:spinning|turning)\b", "not rotating"),
    (r"\b(?:does not|doesn't|did not|didn't|do not|don't) move\b|\b(?:stationary|motionless|static)\b"
     r"|\b(?:stays|stay|remains|remain|stands|stand) (?:still|put|in place|where it is|where they are)\b", "not moving"),
    (r"\b(?:top|upper|upward|upwards)\b", "up"),
    (r"\b(?:bottom|lower|downward|downwards)\b", "down"),
    (r"\b(?:leftward|leftwards)\b", "left"),
    (r"\b(?:rightward|rightwards)\b", "right"),
)]
NONE_OF_THEM = re.compile(r"\bnone of (?:the |these |those )?(?:options|choices|answers|above|them)\b", re.I)
_L = r"[\(\[\*\s]*(?:option|choice)?[\s\(\[\*]*"  # what may sit between a cue and its letter
_LETTER = r"([A-Da-d])(?![A-Za-z0-9'])"
CUES = [
    re.compile(r"\banswer\s*(?:is|would be|will be|should be|=|:|-)?\s*(?:clearly|probably|therefore)?\s*:?" + _L + _LETTER, re.I),
    re.compile(r"\b(?:correct|right|best)\s+(?:option|choice|answer)\s*(?:is|would be|:)?" + _L + _LETTER, re.I),
    re.compile(r"\b(?:i\s+(?:would\s+)?(?:choose|pick|select|go with)|choose|select|pick)" + _L + _LETTER, re.I),
    re.compile(r"\b(?:option|choice)\s*\(?" + _LETTER + r"\)?\s*(?:is|seems|would be)\s+(?:the\s+)?(?:correct|right|best|true)\b", re.I),
    re.compile(r"(?<![A-Za-z])\(?([A-D])\)?\s+(?:is|seems|would be)\s+(?:the\s+)?(?:correct|right|best)\s+(?:answer|option|choice)\b"),
]
ONLY_LETTER = re.compile(r"^[\W_]*([A-Da-d])[\W_]*$")
LEADING_LETTER = re.compile(r"^[\s\*\(\[]*(?:option\s*|choice\s*)?([A-D])(?:[\)\]\.:]|\*\*|\s*$)")
TRAILING_LETTER = re.compile(r"(?:^|\n|[.!?:]\s)[\s\*\(\[]*([A-D])[\)\]\.\*]*\s*$")  # "... so. **C**" at the end
MARKED_LETTER = re.compile(r"(?:\*\*\(?([A-D])\)?[\.\):]?|\(([A-D])\)|\[([A-D])\])")
NEGATION = re.compile(r"(?:\bnot|n't|\bnever|\bnor|\bneither|\brather than|\binstead of|\bno longer)\s+(?:\w+\s+)?$")
THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def normalize(text: str) -> str:
    """Lower case, 'anticlockwise'/'counterclockwise' -> 'counter clockwise', number words -> digits,
    punctuation -> spaces."""
    t = text.lower().replace("anticlockwise", "counter clockwise").replace("counterclockwise", "counter clockwise")
    t = re.sub(r"[^a-z0-9']+", " ", t)
    t = " ".join(NUMBER_WORDS.get(w, w) for w in t.split())
    t = FROM_TO.sub(lambda m: TOWARDS[m.group(1)], t)
    for pattern, replacement in SYNONYMS:
        t = pattern.sub(replacement, t)
    return t


def key_phrases(choice: str) -> tuple[str, list[str]]:
    """(the full choice text, shorter phrases that also name it) normalised: 'moving up and to the left' ->
    ('moving up and to the left', ['up and to the left', 'up left'])."""
    full = normalize(choice)
    core = re.sub(r"^(?:moving|rotating|there is|there are)\s+", "", full)
    extra = [core] if core != full else []
    diagonal = re.fullmatch(r"(up|down) and to the (left|right)", core)
    if diagonal:
        extra.append(f"{diagonal.group(1)} {diagonal.group(2)}")
    return full, extra


def match_option_text(text: str, choices: dict[str, str]) -> tuple[str | None, str]:
    """The one choice the text names by its words, or (None, "") when none or several do."""
    norm = normalize(THINK.sub(" ", text))
    if not norm:
        return None, ""
    found = []  # (start, end, letter, is_full_text)
    negated_spans = []
    for letter, choice in choices.items():
        full, extra = key_phrases(choice)
        for phrase, is_full in [(full, True)] + [(e, False) for e in extra]:
            for m in re.finditer(rf"(?<![a-z0-9']){re.escape(phrase)}(?![a-z0-9'])", norm):
                neg = NEGATION.search(norm[:m.start()])
                if neg:
                    negated_spans.append((neg.start(), m.end()))
                else:
                    found.append((m.start(), m.end(), letter, is_full))
    found = [f for f in found if not any(a <= f[0] and f[1] <= b for a, b in negated_spans)]
    found = [f for f in found if not any(o is not f and o[0] <= f[0] and f[1] <= o[1] and (o[1] - o[0]) > (f[1] - f[0])
                                         for o in found)]
    letters = {f[2] for f in found}
    if len(letters) == 1:
        return letters.pop(), "option-text"
    if not letters:
        return None, ""
    full_letters = {f[2] for f in found if f[3]}
    if len(full_letters) == 1:
        return full_letters.pop(), "option-text"
    last_sentence = re.split(r"[.!?\n]+", THINK.sub(" ", text).strip().rstrip(".!?\n"))[-1]
    if last_sentence.strip() != text.strip():
        letter, how = match_option_text(last_sentence, choices)
        if letter:
            return letter, how
    return None, ""


def _cue_letter(text: str, choices: dict[str, str]) -> str | None:
    """The letter of the last explicit conclusion in the text ("the answer is (C)")."""
    best = None
    for cue in CUES:
        for m in cue.finditer(text):
            letter = m.group(1)
            after = text[m.end():]
            if letter == "a" and re.match(r"\s+[a-z]", after):  # "the answer is a red ball": an article
                continue
            if letter == "A" and re.match(r"\s+[a-z]", after) and not normalize(after).startswith(normalize(choices.get("A", "")) or "\0"):
                continue
            if best is None or m.start() > best[0]:
                best = (m.start(), letter.upper())
    return best[1] if best else None


def extract_letter(text: str, choices: dict[str, str]) -> tuple[str | None, str]:
    """The chosen letter and how it was read: "letter" (a letter in the text), "option-text" (a choice's
    words), "none-of-the-options" (the answer rejects every choice: letter None), or (None, "")."""
    if not text or not text.strip():
        return None, ""
    body = THINK.sub(" ", text).strip() or text
    letter = _cue_letter(body, choices)
    if letter:
        return letter, "letter"
    m = ONLY_LETTER.match(body) or LEADING_LETTER.match(body) or TRAILING_LETTER.search(body)
    if m:
        return m.group(1).upper(), "letter"
    if NONE_OF_THEM.search(body):
        return None, "none-of-the-options"
    marked = {next(g for g in m.groups() if g) for m in MARKED_LETTER.finditer(body)}
    if len(marked) == 1:
        return marked.pop(), "letter"
    return match_option_text(body, choices)


def statements(choices: dict[str, str], question: str | None = None) -> dict[str, str]:
    """Each choice as the sentence it asserts about the question's subject ("The red ball is moving right."):
    MiniLM separates left from right far better in full sentences than in bare choice texts."""
    q = (question or "").strip()
    direction = re.fullmatch(r"(?:What direction|Which way) (is|are) the (.+?) (?:moving|rotating)(?:,? as seen in the video)?\?", q)
    count = re.fullmatch(r"How many (.+)\?", q)
    out = {}
    for letter, choice in choices.items():
        if choice.startswith("there "):
            out[letter] = choice[0].upper() + choice[1:] + "."
        elif direction:
            out[letter] = f"The {direction.group(2)} {direction.group(1)} {choice}."
        elif count:
            out[letter] = f"{choice} {count.group(1)}."
        else:
            out[letter] = choice
    return out


def embedding_scores(text: str, choices: dict[str, str], question: str | None = None) -> dict[str, float]:
    """Cosine similarity of the answer to each choice's statement (bundled MiniLM)."""
    from worldsim.text import embed_texts

    said = statements(choices, question)
    letters = list(choices)
    vectors = embed_texts([text] + [said[k] for k in letters])  # [1+C,384], L2-normalised
    sims = (vectors[1:] @ vectors[0]).tolist()
    return dict(zip(letters, sims))


def rank_by_embedding(text: str, choices: dict[str, str], question: str | None = None) -> str:
    """The choice most similar in meaning to the answer; give the question to compare whole statements."""
    scores = embedding_scores(text, choices, question)
    return max(scores, key=scores.get)


JUDGE_SYSTEM = ("You grade answers to multiple-choice questions about a video. Given the question, its options "
                "and a response, reply with only the letter of the option the response gives as its answer, "
                "or X if it gives none of them. Do not solve the question yourself.")


class LLMJudge:
    """A LangChain chat model that reads which option an answer chose (optional; rules need no model)."""

    def __init__(self, model: "BaseChatModel", name: str | None = None):
        self.model = model
        self.name = name or type(model).__name__

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LLMJudge":
        """A chat model from the langchain parser's settings (model 'provider:name', or base_url + model, ...)."""
        from worldsim.llm import ChatModelConfig, build_chat_model, describe_model

        cfg = ChatModelConfig.model_validate(config)
        return cls(build_chat_model(cfg), describe_model(cfg))

    def choose(self, item: QAItem, answer: str) -> tuple[str | None, bool]:
        """(letter or None, whether the reply could be read)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        options = "\n".join(f"{k}. {v}" for k, v in item.choices.items())
        prompt = f"Question: {item.question}\nOptions:\n{options}\nResponse: {answer}\nLetter:"
        reply = self.model.invoke([SystemMessage(JUDGE_SYSTEM), HumanMessage(prompt)])
        content = reply.content if isinstance(reply.content, str) else str(reply.content)
        if re.fullmatch(r"[\W_]*X[\W_]*", content.strip()):
            return None, True
        letter, how = extract_letter(content, item.choices)
        return letter, how == "letter"


def judge_one(item: QAItem, raw: str, free_form: bool = False, llm: LLMJudge | None = None,
              embedding_fallback: bool = False) -> tuple[str | None, str]:
    """(letter, how) for one answer; how is letter | option-text | none-of-the-options | embedding | llm | ""."""
    if llm is not None and raw.strip():
        letter, readable = llm.choose(item, raw)
        if readable:
            return letter, "llm"
    if free_form:
        letter, how = match_option_text(raw, item.choices)
    else:
        letter, how = extract_letter(raw, item.choices)
    if letter is None and how != "none-of-the-options" and raw.strip() and (free_form or embedding_fallback):
        return rank_by_embedding(raw, item.choices, item.question), "embedding"
    return letter, how


def judge(items: list[QAItem], raws: list[str], mode: str = "direct", free_form: bool = False,
          llm: LLMJudge | None = None, embedding_fallback: bool = False) -> list[AnswerRecord]:
    """One AnswerRecord per (item, raw answer), in order."""
    if len(items) != len(raws):
        raise ValueError(f"{len(raws)} answers for {len(items)} questions")
    records = []
    for item, raw in zip(items, raws):
        raw = raw if isinstance(raw, str) else str(raw)
        letter, how = judge_one(item, raw, free_form, llm, embedding_fallback)
        records.append(AnswerRecord(id=item.id, question_type=item.question_type, mode=mode, free_form=free_form,
                                    raw=raw, letter=letter, correct=letter == item.answer, judge=how))
    return records


def _rate(records: list[AnswerRecord]) -> float | None:
    return round(sum(r.correct for r in records) / len(records), 6) if records else None


def accuracy(records: list[AnswerRecord]) -> dict:
    """Fraction correct overall, per question type, per prompt mode and per variant; `n` answers judged."""
    by = lambda key, values: {v: _rate([r for r in records if key(r) == v]) for v in values if any(key(r) == v for r in records)}
    return {
        "overall": _rate(records),
        "per_category": by(lambda r: r.question_type, QUESTION_TYPES),
        "per_mode": by(lambda r: r.mode, PROMPT_MODES),
        "per_variant": by(lambda r: "free_form" if r.free_form else "multiple_choice", ("multiple_choice", "free_form")),
        "n": len(records),
        "n_per_category": {t: sum(r.question_type == t for r in records) for t in QUESTION_TYPES if any(r.question_type == t for r in records)},
        "unanswered": sum(r.letter is None for r in records),
    }


__all__ = ["LLMJudge", "accuracy", "embedding_scores", "extract_letter", "judge", "judge_one",
           "match_option_text", "rank_by_embedding"]
