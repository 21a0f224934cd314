"""Step 1: extract the King James Bible from Debian's bible-kjv-text, split it, train the tokenizer.

Reads the text with the `bible` program (Debian package bible-kjv, which reads the data file
shipped by bible-kjv-text), writes one chapter per document, holds out every 50th chapter, trains a
sentencepiece BPE vocabulary on the training chapters and tokenizes both splits.

Outputs (in --work, outside the repo): chapters.json, tokenizer.model, train.bin, heldout.bin
(uint16 token ids; every chapter is  BOS + text + EOS).
"""

import argparse
import json
import os
import re
import subprocess

import numpy as np
import sentencepiece as spm

VOCAB_SIZE = 2048
HELDOUT_EVERY = 50  # chapter index % 50 == 25 goes to the held-out split (about 2%)


def read_chapters():
    out = subprocess.run(
        ['bible', '-l100000', 'Gen1:1-Rev22:21'], check=True, capture_output=True, text=True
    ).stdout
    chapters, current = [], None
    for line in out.split('\n'):
        if not line.strip():
            continue
        m = re.match(r'^ +(\d+) (.*)$', line)
        if m:
            current['verses'].append(m.group(2).strip())
        else:  # a heading such as "Genesis 1" or "Song of Solomon 3"
            current = {'title': line.strip(), 'verses': []}
            chapters.append(current)
    return chapters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default='/tmp/chorus-train')
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    chapters = read_chapters()
    n_verses = sum(len(c['verses']) for c in chapters)
    print(f'{len(chapters)} chapters, {n_verses} verses')
    assert len(chapters) == 1189 and n_verses == 31102, 'unexpected bible-kjv output'
    for i, c in enumerate(chapters):
        c['split'] = 'heldout' if i % HELDOUT_EVERY == HELDOUT_EVERY // 2 else 'train'
        c['text'] = ' '.join(c['verses'])  # a chapter is read as one paragraph of prose
    with open(os.path.join(args.work, 'chapters.json'), 'w') as f:
        json.dump(chapters, f)

    # The tokenizer sees the training verses, one per line.
    verses_path = os.path.join(args.work, 'train_verses.txt')
    with open(verses_path, 'w') as f:
        for c in chapters:
            if c['split'] == 'train':
                f.write('\n'.join(c['verses']) + '\n')
    prefix = os.path.join(args.work, 'tokenizer')
    spm.SentencePieceTrainer.train(
        input=verses_path,
        model_prefix=prefix,
        model_type='bpe',
        vocab_size=VOCAB_SIZE,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        normalization_rule_name='identity',
        unk_surface=r' \342\201\207 ',
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        input_sentence_size=0,
        num_threads=1,
        self_test_sample_size=0,
        minloglevel=1,
    )
    sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
    for split in ('train', 'heldout'):
        ids = []
        for c in chapters:
            if c['split'] == split:
                ids += [sp.bos_id()] + sp.encode(c['text']) + [sp.eos_id()]
        arr = np.array(ids, dtype=np.uint16)
        arr.tofile(os.path.join(args.work, f'{split}.bin'))
        chars = sum(len(c['text']) for c in chapters if c['split'] == split)
        print(f'{split}: {len(arr)} tokens, {chars} characters, {chars / len(arr):.2f} chars/token')


if __name__ == '__main__':
    main()
