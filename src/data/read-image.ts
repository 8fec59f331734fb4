// The one place reports read an image of any supported format (PNG or JPEG, any size): the
// decoders live in io/.
export { readImageFile as readImageAny, imageSize } from "../io/jpeg.js";
