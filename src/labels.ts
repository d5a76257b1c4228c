/** The 7 emotions, in the output order of every emolens model (see docs/model-contract.md). */
export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'] as const;
export type Emotion = (typeof EMOTIONS)[number];
export type EmotionProbabilities = Record<Emotion, number>;

export function isEmotion(name: string): name is Emotion {
  return (EMOTIONS as readonly string[]).includes(name);
}

/** Turn a probability vector in EMOTIONS order into a labelled record. */
export function toEmotionProbabilities(values: ArrayLike<number>): EmotionProbabilities {
  const out = {} as EmotionProbabilities;
  EMOTIONS.forEach((e, i) => (out[e] = values[i]));
  return out;
}

export function dominantEmotion(p: EmotionProbabilities): Emotion {
  return EMOTIONS.reduce((best, e) => (p[e] > p[best] ? e : best), EMOTIONS[0]);
}
