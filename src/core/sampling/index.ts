/** Public surface of sampling: seeded rng, logits → token. */
export { createRng, type Rng } from './rng';
export {
  applyRepetitionPenalty,
  DEFAULT_SAMPLING,
  sampleToken,
  validateSamplingParams,
} from './sampler';
export { argmax, topIndices } from './top-candidates';
