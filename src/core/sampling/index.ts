/** Public surface of sampling: seeded rng, logits → token. */
export { createRng } from './rng';
export { DEFAULT_SAMPLING, sampleToken, validateSamplingParams } from './sampler';
