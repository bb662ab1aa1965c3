"""A small byte-level BPE tokenizer for the embedded model, trained locally and deterministically.

No tokenizer can be downloaded here, so `build_tokenizer()` trains one with the `tokenizers`
library on a fixed corpus of the phrases our tasks use (shapes, colours, counting, boxes, choice
letters, the answer-format instruction) and wraps it as a transformers fast tokenizer with a
Qwen-style chat template. Byte-level means any text still encodes; unseen words just cost more
tokens. The corpus also holds the task families' own questions (generated from a fixed seed),
so bump `BUILD_VERSION` in build.py when their wording changes. The same code gives the same
bytes every time.

    tok = build_tokenizer()
    tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
"""

import itertools

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

# Qwen's special tokens, in Qwen's order, so ids 0..6 are fixed: <|endoftext|>=0 (pad),
# <|im_start|>=1, <|im_end|>=2 (eos), <|vision_start|>=3, <|vision_end|>=4, <|image_pad|>=5,
# <|video_pad|>=6.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Ordinary (non-special) single tokens: TRL decodes completions with skip_special_tokens=True,
# and the format reward needs these tags to survive decoding.
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# Target vocabulary size before the tags are added; training may stop short if the corpus
# runs out of pairs worth merging.
VOCAB_SIZE = 1536

# Qwen2's pre-tokenizer regex: `\p{N}` alone means every digit is its own token, so numbers
# are spelled digit by digit and always round-trip.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# One ChatML turn, with image and video parts rendered as Qwen's vision tokens (shared with
# the smol preset's template, which adds a default system prompt in front).
CHAT_TURN = (
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
)
GENERATION_PROMPT = "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
# No default system prompt (it would cost tokens on every sample).
CHAT_TEMPLATE = "{% for message in messages %}" + CHAT_TURN + "{% endfor %}" + GENERATION_PROMPT

SHAPES = ["circle", "square", "triangle", "rectangle", "star", "diamond", "hexagon", "ellipse"]
COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white", "gray", "pink"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten"]
QUESTIONS = [
    "How many shapes are in the image?",
    "How many {c} shapes are there?",
    "Count the {s}s in the picture.",
    "Which shapes appear in the image?",
    "What is the box of the {c} {s}?",
    "Find the {c} {s} and give its bounding box [x1, y1, x2, y2].",
    "Is the {c} {s} at [{a}, {b}, {d}, {e}]?",
    "Is there a {c} {s} in the image? Answer yes or no.",
    "Which option is correct? Select all that apply.",
    "What is the value of x? Solve the problem step by step.",
    "What is the area of the triangle? The angle is {a} degrees.",
]
SENTENCES = [
    "Think briefly inside <think></think>, then give the final answer inside <answer></answer>.",
    "The answer is yes. The answer is no. It is true. It is false. That is correct.",
    "That is incorrect. Select all that apply. Choose one option: A, B, C, D or E.",
    "Options: A. {s} B. {c} C. {n} D. none of the above E. all of the above",
    "I see a {c} {s} near the top left, bottom right, center, left side and right side.",
    "There are {n} shapes: a {c} {s}, and the rest are small, large, big or tiny.",
    "The box is [{a}, {b}, {d}, {e}] in pixels; width {a}, height {b}, total {a}{b}.",
    "x = {a} + {b} - {d} * {e} / 2 = ?; (a + b) ^ 2 >= 0, 3.14 % 100 < 1000!",
    "Let me count: first, second, third, then the last one. So the number is {n}.",
    "Hello, world. Question: what is shown? Answer: a picture of the {c} {s}.",
]
# Common words of visual questions, math problems and general chat, so that everyday prompts
# (and a later general-ability SFT mix) do not fall apart into single bytes.
WORDS = """
the a an of to in on at by for with from and or but not no yes is are was were be been being
it its this that these those there here what which who whom whose where when why how many much
more most less least some any all each every both either neither other another same different
one two three four five six seven eight nine ten eleven twelve hundred thousand million first
second third fourth fifth last next previous half quarter double triple number numbers digit
count total sum difference product quotient equal equals greater smaller than larger largest
smallest longest shortest add subtract multiply divide plus minus times over under above below
left right top bottom middle center corner edge side inside outside between near far front back
object objects thing things item items person people man woman boy girl child dog cat car bus
truck bike bicycle motorcycle train plane boat bird horse sheep cow chair table sofa bed tv
laptop phone bottle cup bowl plant tree house road street sky water grass wall floor window door
image picture photo figure diagram chart graph scene frame shown shows show see seen look visible
color colour colours colors shape shapes size position location box boxes bounding coordinate
coordinates pixel pixels point points line lines angle angles degree degrees radius diameter
area perimeter length width height volume circle circles square squares triangle triangles
cube sphere cylinder cone metal rubber shiny matte small large big tiny huge tall short wide
narrow long round straight parallel perpendicular vertical horizontal diagonal opposite
question questions answer answers option options choice choices correct incorrect true false
right wrong select choose pick give find compute calculate solve determine estimate explain
describe identify list name read write think thinking reason reasoning step steps final result
therefore because since so then thus hence if else only also just still very really quite
please thank you hello can could would should will may might must do does did done make made
have has had get got go goes went use used using need needs want like same value values x y z
class category categories label labels person animal vehicle furniture food fruit apple banana
orange pizza cake sandwich clock book vase scissors bear zebra giraffe elephant kite umbrella
""".split()


def corpus() -> list[str]:
    """The fixed training corpus: every template filled from fixed lists, in a fixed order."""
    lines = []
    numbers = [str(v) for v in (0, 1, 2, 3, 4, 5, 7, 10, 12, 25, 48, 56, 99, 100, 111, 255, 1000)]
    for i, (s, c) in enumerate(itertools.product(SHAPES, COLOURS)):
        n = NUMBER_WORDS[i % len(NUMBER_WORDS)]
        a, b, d, e = (numbers[(i + k) % len(numbers)] for k in (0, 3, 7, 11))
        for template in QUESTIONS + SENTENCES:
            lines.append(template.format(s=s, c=c, n=n, a=a, b=b, d=d, e=e))
    lines += [" ".join(NUMBER_WORDS), "0 1 2 3 4 5 6 7 8 9", "A B C D E a b c d e"]
    lines += ["yes no true false Yes No True False YES NO", "A,C B,D A,B,E"]
    # Each word twice, lower and capitalised, so min_frequency lets it merge to one token.
    lines += [" ".join(WORDS), " ".join(w.capitalize() for w in WORDS), " ".join(WORDS)]
    return lines + task_text()


# The families whose questions are in the corpus: the ones the embedded models were built
# with. A family added later does not change the tokenizer (and so every embedded model);
# byte-level, its words still encode.
CORPUS_FAMILIES = ("detection", "classification", "math", "general")


def task_text(scenes: int = 40) -> list[str]:
    """Questions and answers of the first `scenes` train scenes of the CORPUS_FAMILIES (fixed
    seed), the format instruction and the SFT reasoning sentences: the text the model reads
    most, so it should cost the fewest tokens (a shorter sequence is a faster step)."""
    from tasks import family_module
    from tasks.common import scene_rng

    from reftbench.prompts import FORMAT_INSTRUCTION
    from reftbench.training.datasets import THINK_TEMPLATES

    lines = [FORMAT_INSTRUCTION] * 4 + list(THINK_TEMPLATES.values()) * 4
    for family in CORPUS_FAMILIES:
        module = family_module(family)
        for index in range(scenes):
            rng = scene_rng(0, family, "train", index)
            _, scene = module.make_scene("train", index, rng)
            for body in module.make_tiers(scene, rng).values():
                lines += [body["question"], body["answer"]]
    return lines


def train_backend(special_tokens: list[str] = SPECIAL_TOKENS) -> Tokenizer:
    """Train the raw `tokenizers` BPE model (specials first, tags added as ordinary tokens).

    Other architectures (`tiny_archs`) pass their own special tokens; the merges are the same.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in special_tokens],
        # All 256 byte symbols are in the vocabulary, so no text is ever out of vocabulary.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return tok


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The wrapped tokenizer: Qwen token names, chat template, left padding for generation."""
    tok = PreTrainedTokenizerFast(
        tokenizer_object=train_backend(),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        chat_template=CHAT_TEMPLATE,
    )
    return tok
