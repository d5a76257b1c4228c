/**
 * BlazeFace anchor centres (SSD-style, all anchors of a cell share its centre; sizes are regressed, not anchored).
 * Same order as the model's outputs and as @vladmandic/human's generateAnchors: stride by stride, row by row,
 * column by column, then the anchors of one cell.
 */
export interface AnchorConfig {
  inputSize: number;
  strides: number[];
  anchorsPerCell: number[];
  /** Cell-centre offset in cells (0.5 = centre). */
  offset: number;
}

/** Anchor centres in input pixels, interleaved [x0, y0, x1, y1, ...]. */
export function generateAnchors(config: AnchorConfig): Float32Array {
  const centres: number[] = [];
  config.strides.forEach((stride, level) => {
    const cells = Math.ceil(config.inputSize / stride);
    for (let row = 0; row < cells; row++) {
      const y = stride * (row + config.offset);
      for (let col = 0; col < cells; col++) {
        const x = stride * (col + config.offset);
        for (let n = 0; n < config.anchorsPerCell[level]; n++) centres.push(x, y);
      }
    }
  });
  return Float32Array.from(centres);
}
