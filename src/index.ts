/**
 * slimwav: run (structurally pruned) wav2vec 2.0 / HuBERT / WavLM models on the CPU with WebAssembly SIMD.
 *
 *   import { load } from 'slimwav';
 *   const model = await load('path/to/model', { threads: 2 });
 *   const { layers, frames, dim } = await model.extract(pcm16k, { layers: 'all' });
 *   // or model.extract({ samples, sampleRate }): Float32Array or Int16Array at any rate, resampled to 16 kHz
 *   model.dispose();
 *
 * The other entry points: 'slimwav/browser' (no Node APIs), 'slimwav/prune' (the pruner and compact()),
 * 'slimwav/onnx' (ONNX export). Importing this one loads neither the pruner nor protobufjs.
 */
export { load, buildModel, Model } from './model.js';
export type { LoadOptions, ExtractOptions, Features, ModelInfo, AudioInput, StreamOptions } from './model.js';
export type { FeatureStream, StreamFrames, StreamBlock } from './stream.js';
export type { ModelConfig, LayerPlan, ConvLayer, ModelType } from './arch/config.js';
export { parseConfig, convFrames, receptiveField } from './arch/config.js';
export { countParams, countMacs, tensorSpecs } from './arch/tensors.js';
export { SlimwavError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { LayerSelection } from './layers.js';
export { readAudioFile, decodeAudio } from './format/audio.js';
export { resample } from './format/resample.js';
export type { Preprocessor } from './format/preprocessor.js';
