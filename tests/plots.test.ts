import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseMidi, readMidiFile } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { makePiece, pieceLengthBeats, pitchName, type Note, type Piece } from '../lib/core/piece';
import { histogramSvg, lossCurveSvg, type LossHistoryPoint } from '../lib/show/charts';
import { pianoRollSvg } from '../lib/show/pianoroll';
import { svgToPng } from '../lib/show/png';
import { pngSize } from './fixtures/media';
import { liveRefusal, liveTraces, startLivePlot, type PlotFunction } from '../lib/show/live';
import { NOTTINGHAM, needNottingham } from './helpers';

const nodeplotlibLoaded = (): boolean => Object.keys(require.cache).some((k) => k.includes(`${path.sep}nodeplotlib${path.sep}`));
// Checked before any test runs: importing lib/live must not load nodeplotlib (nor start its server).
const loadedAtImport = nodeplotlibLoaded();

interface El {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly text: string;
}

/** Parses SVG strictly (fails the test on malformed XML) and returns every element in document order. */
function elements(svg: string): El[] {
  const valid = XMLValidator.validate(svg);
  assert.equal(valid, true, `SVG is not well-formed XML: ${JSON.stringify(valid)}`);
  const tree = new XMLParser({ ignoreAttributes: false, preserveOrder: true, attributeNamePrefix: '', parseAttributeValue: false }).parse(
    svg,
  ) as unknown[];
  const out: El[] = [];
  const walk = (nodes: unknown[]): void => {
    for (const node of nodes) {
      const rec = node as Record<string, unknown>;
      const tag = Object.keys(rec).find((k) => k !== ':@');
      if (!tag || tag === '#text') continue;
      const children = rec[tag] as unknown[];
      const text = children
        .map((c) => (c as Record<string, unknown>)['#text'])
        .filter((t) => t !== undefined)
        .join('');
      out.push({ tag, attrs: (rec[':@'] as Record<string, string>) ?? {}, text: String(text) });
      walk(children);
    }
  };
  walk(tree);
  assert.equal(out[0]?.tag, 'svg');
  return out;
}
const byClass = (els: El[], cls: string): El[] => els.filter((e) => e.attrs.class === cls);
const num = (e: El, a: string): number => Number(e.attrs[a]);

/** A two-voice piece written to MIDI with lib/midi and read back (4/4, 120 bpm, 4 bars). */
function tinyPiece(): Piece {
  const notes: Note[] = [];
  for (let b = 0; b < 16; b++) notes.push({ pitch: [60, 62, 64, 65, 67][b % 5], start: b, duration: 0.5, velocity: 90 });
  for (let b = 0; b < 16; b += 4) notes.push({ pitch: 48, start: b, duration: 4, velocity: 70 });
  const bytes = pieceToMidiBytes(makePiece('tiny', notes, { tempos: [{ beat: 0, bpm: 120 }] }));
  return parseMidi(bytes, 'tiny.mid');
}

function checkPianoRoll(piece: Piece, primerBeats: number): void {
  const els = elements(pianoRollSvg(piece, { primerBeats, title: piece.name }));
  const primer = byClass(els, 'note primer');
  const rest = byClass(els, 'note');
  const expectedPrimer = piece.notes.filter((n) => n.start < primerBeats).length;
  assert.ok(expectedPrimer > 0 && expectedPrimer < piece.notes.length, 'the primer split should be non-trivial');
  assert.equal(primer.length, expectedPrimer);
  assert.equal(primer.length + rest.length, piece.notes.length);
  const [divider] = byClass(els, 'primer-divider');
  assert.ok(divider, 'a primer divider is drawn');
  const dx = num(divider, 'x1');
  assert.ok(
    primer.every((e) => num(e, 'x') < dx),
    'primer notes lie left of the divider',
  );
  assert.ok(
    rest.every((e) => num(e, 'x') >= dx - 0.01),
    'generated notes lie right of the divider',
  );
  assert.ok(
    els.some((e) => e.tag === 'text' && e.text.startsWith('← primer')),
    'the divider is labelled',
  );
  // Note rects come in note order: higher pitch → higher row (smaller y), later start → further right.
  const rects = els.filter((e) => e.tag === 'rect' && e.attrs.class?.startsWith('note'));
  const yOf = new Map<number, number>();
  piece.notes.forEach((n, i) => {
    const y = num(rects[i], 'y');
    if (yOf.has(n.pitch)) assert.equal(y, yOf.get(n.pitch), `all notes of pitch ${n.pitch} share a row`);
    yOf.set(n.pitch, y);
  });
  const pitches = [...yOf.keys()].sort((a, b) => a - b);
  assert.ok(
    pitches.every((p, i) => i === 0 || yOf.get(p)! < yOf.get(pitches[i - 1])!),
    'rows go up with pitch',
  );
  const first = piece.notes[0];
  const last = piece.notes[piece.notes.length - 1];
  const pxPerBeat = (num(rects[rects.length - 1], 'x') - num(rects[0], 'x')) / (last.start - first.start);
  piece.notes.forEach((n, i) => assert.ok(Math.abs(num(rects[i], 'x') - num(rects[0], 'x') - (n.start - first.start) * pxPerBeat) < 0.05));
}

test('piano roll of a tiny MIDI file: one mark per note, seed counted separately, bar lines, pitch labels', () => {
  const piece = tinyPiece();
  assert.equal(piece.notes.length, 20);
  checkPianoRoll(piece, 6);
  const els = elements(pianoRollSvg(piece, { primerBeats: 6 }));
  assert.equal(byClass(els, 'note primer').length, 6 + 2); // 6 melody notes + bass notes at beats 0 and 4
  assert.equal(byClass(els, 'bar-line').length, 4); // 16 beats of 4/4
  const labels = els.filter((e) => e.tag === 'text').map((e) => e.text);
  assert.ok(labels.includes('C4') && labels.includes('C3'), `pitch labels: ${labels.join(',')}`);
});

test('piano roll bar lines follow time-signature changes', () => {
  const notes: Note[] = Array.from({ length: 12 }, (_, i) => ({ pitch: 60 + (i % 3), start: i, duration: 1, velocity: 80 }));
  // 3/4 for beats 0–6 (2 bars), then 2/4 for beats 6–12 (3 bars).
  const piece = makePiece('ts', notes, {
    timeSignatures: [
      { beat: 0, numerator: 3, denominator: 4 },
      { beat: 6, numerator: 2, denominator: 4 },
    ],
  });
  const bars = byClass(elements(pianoRollSvg(piece)), 'bar-line').map((e) => num(e, 'x1'));
  assert.equal(bars.length, 5);
  const gaps = bars.slice(1).map((x, i) => x - bars[i]);
  assert.ok(Math.abs(gaps[0] / gaps[2] - 1.5) < 0.01, `3/4 bars are 1.5 × the 2/4 bars (gaps ${gaps.join(', ')})`);
  assert.equal(byClass(elements(pianoRollSvg(piece)), 'primer-divider').length, 0, 'no divider without primerBeats');
  assert.throws(() => pianoRollSvg(piece, { primerBeats: -1 }), /primerBeats/);
  assert.equal(byClass(elements(pianoRollSvg(makePiece('empty', []))), 'note').length, 0);
});

test('piano roll of a real Nottingham tune', { skip: needNottingham }, () => {
  const piece = readMidiFile(path.join(NOTTINGHAM, 'ashover1.mid'), {}, 'ashover1.mid');
  assert.ok(piece.notes.length > 100);
  checkPianoRoll(piece, 16);
  checkPianoRoll(piece, pieceLengthBeats(piece) / 2);
});

test('pitchName uses scientific pitch notation', () => {
  assert.deepEqual([60, 61, 69, 21, 0, 127].map(pitchName), ['C4', 'C#4', 'A4', 'A0', 'C-1', 'G9']);
});

const HISTORY: LossHistoryPoint[] = Array.from({ length: 7 }, (_, i) => ({
  epoch: i + 1,
  trainLoss: 3 / (i + 1),
  valLoss: 3.3 / (i + 1) + 0.1 * i,
  valPerplexity: Math.exp(3.3 / (i + 1) + 0.1 * i),
}));

test('loss curve: one point per epoch per series, perplexity panel, best epoch marked', () => {
  const els = elements(lossCurveSvg(HISTORY, { title: 'run 1' }));
  assert.equal(byClass(els, 'point train').length, 7);
  assert.equal(byClass(els, 'point val').length, 7);
  assert.equal(byClass(els, 'point ppl').length, 7);
  // Points run left to right by epoch, and a lower loss is drawn higher (smaller y).
  const train = byClass(els, 'point train');
  assert.ok(train.every((e, i) => i === 0 || num(e, 'cx') > num(train[i - 1], 'cx')));
  assert.ok(num(train[0], 'cy') < num(train[6], 'cy'), 'the first (highest) loss is drawn above the last');
  const best = HISTORY.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
  assert.ok(byClass(els, 'best')[0].text.includes(`at epoch ${best.epoch}`));
  const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
  for (const t of ['run 1', 'train loss', 'validation loss', 'validation perplexity', 'epoch']) assert.ok(texts.includes(t), t);
});

test('loss curve: no perplexity panel without perplexity, missing values skipped, empty history', () => {
  const noPpl = HISTORY.map(({ epoch, trainLoss, valLoss }) => ({ epoch, trainLoss, valLoss: epoch === 3 ? NaN : valLoss }));
  const els = elements(lossCurveSvg(noPpl));
  assert.equal(byClass(els, 'point train').length, 7);
  assert.equal(byClass(els, 'point val').length, 6);
  assert.equal(byClass(els, 'point ppl').length, 0);
  const empty = elements(lossCurveSvg([]));
  assert.equal(empty.filter((e) => e.tag === 'circle').length, 0);
  assert.ok(empty.some((e) => e.text === 'no epochs yet'));
  assert.equal(byClass(elements(lossCurveSvg(HISTORY.slice(0, 1))), 'point val').length, 1);
});

test('histogram: one bar per item, topN keeps the largest, heights follow counts', () => {
  const items = Array.from({ length: 20 }, (_, i) => ({ label: `tok<${i}>`, count: (i * 7) % 20 }));
  const all = elements(histogramSvg(items, { title: 'tokens & counts' }));
  assert.equal(byClass(all, 'bar').length, 20);
  const topEls = elements(histogramSvg(items, { topN: 5 }));
  const top = byClass(topEls, 'bar');
  assert.equal(top.length, 5);
  // Each bar's tooltip (its <title> child, the next element) names label and count.
  const counts = top.map((b) => Number(/: (\d+)$/.exec(topEls[topEls.indexOf(b) + 1].text)?.[1] ?? NaN));
  assert.deepEqual(counts, [19, 18, 17, 16, 15]);
  const heights = top.map((b) => num(b, 'height'));
  assert.ok(Math.abs(heights[0] / heights[4] - 19 / 15) < 0.01, `bar heights are proportional (${heights.join(', ')})`);
  assert.throws(() => histogramSvg([{ label: 'x', count: -1 }]), /count for "x"/);
  assert.throws(() => histogramSvg(items, { topN: 0 }), /topN/);
});

test('PNG: signature, requested width, aspect ratio kept, text actually drawn', () => {
  const svg = lossCurveSvg(HISTORY);
  const png = svgToPng(svg, { width: 500 });
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const size = pngSize(png);
  assert.equal(size.width, 500);
  const root = elements(svg)[0];
  assert.equal(size.height, Math.round((500 * num(root, 'height')) / num(root, 'width')));
  assert.equal(pngSize(svgToPng(pianoRollSvg(tinyPiece()))).width, 1800, 'default is 2 × the SVG width');
  // Text must really be rendered (resvg silently drops text when it finds no font).
  const blank = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60"><rect width="300" height="60" fill="#fff"/>';
  const withText = `${blank}<text x="10" y="40" font-size="24" font-family="DejaVu Sans, sans-serif">Loss per epoch</text></svg>`;
  assert.ok(svgToPng(withText).length > svgToPng(`${blank}</svg>`).length + 1000, 'text adds pixels to the PNG');
  assert.throws(() => svgToPng(svg, { width: 3 }), /width must be an integer/);
  assert.throws(() => svgToPng('<svg'), /cannot rasterise SVG/);
});

test('live plot: importing does not load nodeplotlib; refuses in CI/quick/test runs; streams every epoch', () => {
  assert.equal(loadedAtImport, false, 'importing lib/live must not load nodeplotlib');
  assert.match(liveRefusal({ CI: 'true', DISPLAY: ':0' }, 'linux'), /CI is set/);
  assert.match(liveRefusal({ MUSICGEN_QUICK: '1', DISPLAY: ':0' }, 'linux'), /MUSICGEN_QUICK=1/);
  assert.match(liveRefusal({}, 'linux'), /no display/);
  assert.equal(liveRefusal({ DISPLAY: ':0' }, 'linux'), '');
  const refused = startLivePlot({ env: { CI: '1' } });
  assert.equal(refused.active, false);
  refused.onEpoch(HISTORY[0]);
  refused.stop();
  assert.equal(startLivePlot().active, false, 'under node --test the real live plot never starts');
  assert.equal(nodeplotlibLoaded(), false, 'refused live plots never load nodeplotlib');

  let seen: ReturnType<typeof liveTraces> | undefined;
  let title = '';
  const fake: PlotFunction = (data$, layout) => {
    title = String((layout.title as { text?: string } | undefined)?.text);
    data$.subscribe((d) => (seen = d));
  };
  const live = startLivePlot({ env: { DISPLAY: ':0' }, platform: 'linux', plot: fake, title: 'live run' });
  assert.equal(live.active, true);
  assert.equal(title, 'live run');
  HISTORY.slice(0, 3).forEach((r) => live.onEpoch(r));
  assert.deepEqual(
    seen?.map((t) => t.name),
    ['train loss', 'validation loss', 'validation perplexity'],
  );
  assert.deepEqual(seen?.[0].x, [1, 2, 3]);
  assert.deepEqual(
    seen?.[1].y,
    HISTORY.slice(0, 3).map((r) => r.valLoss),
  );
  live.stop();
  live.onEpoch(HISTORY[3]);
  assert.deepEqual(seen?.[0].x, [1, 2, 3], 'no updates after stop');
  assert.equal(nodeplotlibLoaded(), false);
});

test('nodeplotlib and this project share one rxjs (else nodeplotlib would not recognise our stream)', () => {
  const fromNodeplotlib = require.resolve('rxjs', { paths: [path.dirname(require.resolve('nodeplotlib'))] });
  assert.equal(fromNodeplotlib, require.resolve('rxjs'));
});
