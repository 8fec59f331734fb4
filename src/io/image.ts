/** A decoded image, whatever its file format. */
export interface DecodedImage {
  width: number;
  height: number;
  /** RGB bytes, row-major. */
  rgb: Uint8Array;
}
