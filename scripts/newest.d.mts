/** The newest modification time (ms) of the files under `dir` whose names end in `ext`. */
export function newest(dir: string, ext: string): number;
