"""Step 3a: convert the sentencepiece BPE model to a Hugging Face tokenizer.json (+ tokenizer_config.json;
the sentencepiece tokenizer.model is copied next to them)
and write test cases (sentencepiece's own encode/decode results) for verify_tokenizer.mjs.

The conversion is the usual one for Llama sentencepiece models: a BPE model over the same vocabulary
(ids unchanged), merges derived from the piece scores (every split of a piece into two vocabulary
pieces, ranked by the merged piece's score), byte fallback, and a normalizer that reproduces
sentencepiece's whitespace handling (dummy prefix "▁", runs of spaces collapsed, leading and trailing
spaces dropped; the model was trained with normalization_rule_name=identity, so nothing else changes).
"""

import argparse
import json
import os
import random
import shutil

import sentencepiece as spm

SPECIAL = ['<unk>', '<s>', '</s>']


def convert(sp):
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    mergeable = {p: i for p, i in vocab.items() if not (sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i))}
    merges = []
    for piece, pid in mergeable.items():
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in mergeable and right in mergeable:
                merges.append((pid, mergeable[left], mergeable[right], [left, right]))
    merges.sort(key=lambda m: m[:3])  # higher score (lower id in a sentencepiece BPE model) merges first
    added = [
        {'id': vocab[t], 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False,
         'normalized': False, 'special': True}
        for t in SPECIAL
    ]
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': added,
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'Prepend', 'prepend': '▁'},
            {'type': 'Replace', 'pattern': {'Regex': ' {2,}'}, 'content': ' '},
            {'type': 'Replace', 'pattern': {'Regex': '(?<![\\s\\S])▁ '}, 'content': '▁'},
            {'type': 'Replace', 'pattern': {'Regex': '[ ▁]+(?![\\s\\S])'}, 'content': ''},
            {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'},
        ]},
        'pre_tokenizer': None,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}},
        },
        'decoder': {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '},
            {'type': 'ByteFallback'},
            {'type': 'Fuse'},
            {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0},
        ]},
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
            'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
            'vocab': vocab, 'merges': [m[3] for m in merges],
        },
    }


def tokenizer_config(max_len):
    return {
        'add_bos_token': True,
        'add_eos_token': False,
        'add_prefix_space': None,
        'added_tokens_decoder': {
            str(i): {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False,
                     'single_word': False, 'special': True}
            for i, t in enumerate(SPECIAL)
        },
        'bos_token': '<s>',
        'clean_up_tokenization_spaces': False,
        'eos_token': '</s>',
        'legacy': True,
        'model_max_length': max_len,
        'pad_token': None,
        'sp_model_kwargs': {},
        'spaces_between_special_tokens': False,
        'tokenizer_class': 'LlamaTokenizer',
        'unk_token': '<unk>',
        'use_default_system_prompt': False,
    }


ODD = [
    '', ' ', '  ', 'a', ' leading space', 'trailing space ', 'many    spaces   inside', '\ttab\tseparated',
    'line one\nline two', 'line\n\nbreaks\n', 'CAPITALS AND lowercase', 'Numbers 3:16 and 1611, 2024.',
    'naïve café résumé', 'Ærøskøbing', '“curly quotes” and ‘single’ — dashes…', 'emoji 🙏✝️',
    '中文字符', 'Ελληνικά', 'שָׁלוֹם', 'mixed\r\nnewlines', 'x' * 50, '!!!???...', 'a\u00a0non-breaking space',
    'Jehovahjireh', 'Mahershalalhashbaz', 'thee thou thy thine ye', 'hath doth saith',
    '<s> literal specials </s> <unk>', '▁ starts with the meta symbol',
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default='/tmp/chorus-train')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '../../public/models/chorus-kjv'))
    ap.add_argument('--seed', type=int, default=1611)
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, 'tokenizer.model'))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(convert(sp), f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, 'tokenizer_config.json'), 'w') as f:
        json.dump(tokenizer_config(256), f, indent=2)
        f.write('\n')
    shutil.copy(os.path.join(args.work, 'tokenizer.model'), args.out)  # the original, for reference

    # Test cases: all held-out verses, 300 random training verses, 20 whole chapters, odd strings.
    rnd = random.Random(args.seed)
    chapters = json.load(open(os.path.join(args.work, 'chapters.json')))
    held = [v for c in chapters if c['split'] == 'heldout' for v in c['verses']]
    train = [v for c in chapters if c['split'] == 'train' for v in c['verses']]
    texts = held + rnd.sample(train, 300) + [c['text'] for c in rnd.sample(chapters, 20)] + ODD
    enc = [{'text': t, 'ids': [1] + sp.encode(t), 'decoded': sp.decode(sp.encode(t))} for t in texts]
    # Decoding cases: random id sequences (no specials); the encodings above are decoded too.
    # Pieces 3..258 are the byte-fallback tokens <0x00>..<0xFF>; the corpus is plain ASCII, so the model
    # never produces them in practice. They are tested separately (invalid UTF-8 decodes differently).
    first_piece = 3 + 256
    dec = []
    for _ in range(500):
        ids = [rnd.randrange(first_piece, sp.get_piece_size()) for _ in range(rnd.randrange(1, 40))]
        dec.append({'ids': ids, 'text': sp.decode(ids)})
    dec_bytes = []
    for _ in range(100):
        ids = [rnd.randrange(3, sp.get_piece_size()) for _ in range(rnd.randrange(1, 40))]
        dec_bytes.append({'ids': ids, 'text': sp.decode(ids)})
    with open(os.path.join(args.work, 'tokenizer_cases.json'), 'w') as f:
        json.dump({'encode': enc, 'decode': dec, 'decode_bytes': dec_bytes}, f, ensure_ascii=False)
    print(f'{len(enc)} encode cases, {len(dec)} + {len(dec_bytes)} decode cases')


if __name__ == '__main__':
    main()
