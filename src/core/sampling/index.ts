/** Public surface of sampling: seeded rng, logits → token, stop check. */
export { createRng, type Rng } from './rng';
export {
  applyRepetitionPenalty,
  DEFAULT_SAMPLING,
  sampleToken,
  shouldStop,
  validateSamplingParams,
} from './sampler';
export { argmax, topIndices } from './top-candidates';
