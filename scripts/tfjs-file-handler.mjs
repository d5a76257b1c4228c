/**
 * The one tf.io.IOHandler over local files that the TF.js scripts (verify-blazeface.mjs, tfjs-features.mjs) load
 * graph models through: model.json plus the weight shards its weightsManifest names, read from disk.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function fileHandler(graphPath) {
  return {
    async load() {
      const json = JSON.parse(readFileSync(graphPath, 'utf8'));
      const shards = json.weightsManifest.flatMap((group) => group.paths.map((p) => readFileSync(join(dirname(graphPath), p))));
      const bytes = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      };
    },
  };
}
