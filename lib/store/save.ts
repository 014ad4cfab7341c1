/**
 * Writing a model folder (./folder.ts): vocab.json and config.json once at
 * the start of training, the weights and history.json after each best
 * epoch. Every file is written atomically; the weights file is new on every
 * save and model.json is switched to it last, so a crash never pairs
 * model.json with half-written weights.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { joinPath, writeFileAtomic, type FilePath } from '../core/files';
import type { MusicModel } from '../model/network';
import { saveVocabulary } from '../tokens/vocab-file';
import type { Vocabulary } from '../tokens/vocabulary';
import { CONFIG_JSON, HISTORY_JSON, isWeightsFile, MODEL_JSON, VOCAB_JSON } from './folder';
import type { RunConfig } from './run-config';
import type { EpochRecord } from './train-config';

/** Writes vocab.json and config.json (once, at the start of training). */
export function saveRunConfig(dir: FilePath, vocab: Vocabulary, config: RunConfig): void {
  saveVocabulary(joinPath(dir, VOCAB_JSON), vocab);
  writeFileAtomic(joinPath(dir, CONFIG_JSON), JSON.stringify(config, null, 2) + '\n');
}

/** Writes the training history. */
export function saveHistory(dir: FilePath, history: readonly EpochRecord[]): void {
  writeFileAtomic(joinPath(dir, HISTORY_JSON), JSON.stringify(history, null, 1) + '\n');
}

/** Saves the weights (new weights file, then model.json pointing at it, then removes older weights files). */
export async function saveWeights(dir: FilePath, model: MusicModel): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.net.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts | null;
  if (!a || !a.weightData || !a.weightSpecs) throw new Error('tfjs returned no weights to save');
  const weightData = tf.io.CompositeArrayBuffer.join(a.weightData);
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const weightsFile = `weights-${stamp}.bin`;
  writeFileAtomic(joinPath(dir, weightsFile), new Uint8Array(weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [`./${weightsFile}`], weights: a.weightSpecs }],
  };
  writeFileAtomic(joinPath(dir, MODEL_JSON), JSON.stringify(modelJson) + '\n');
  for (const f of fs.readdirSync(dir)) {
    if (isWeightsFile(f) && f !== weightsFile) fs.rmSync(joinPath(dir, f), { force: true });
  }
}
