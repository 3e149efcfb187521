// The WebGL2 renderer: a diagram's primitives as four instanced batches
// (line segments as screen-space quads, rectangle fills, ellipses drawn by
// their distance field, polygon triangles), uploaded once. What the
// runtime changes (colours, visibility, blinking, moves) lives in two
// small textures indexed by primitive, so a live update rewrites a few
// texels rather than any geometry. Drawing order is kept across the
// batches by depth: a primitive drawn later is nearer, its lines above its
// fill. Level of detail: shapes smaller than half a pixel are dropped in
// the vertex shader (text is the overlay's, see overlay.js).

const COLS = 2048;

const HEADER = `#version 300 es
precision highp float;
precision highp int;
uniform vec4 u_view;   // origin x, y (drawing units), scale (px per unit), primitives
uniform vec2 u_size;   // canvas, px
uniform float u_phase; // 1 while blinking ones are off
uniform highp sampler2D u_style;
uniform highp sampler2D u_offset;
const int COLS = ${COLS};
ivec2 texel(int i) { return ivec2(i % COLS, i / COLS); }
vec2 pixels(vec2 world) { return (world - u_view.xy) * u_view.z; }
vec4 clip(vec2 px, int prim, float layer) {
  float depth = 1.0 - (2.0 * float(prim) + layer + 1.0) / (2.0 * u_view.w + 2.0);
  return vec4(px.x / u_size.x * 2.0 - 1.0, 1.0 - px.y / u_size.y * 2.0, depth * 2.0 - 1.0, 1.0);
}
// Whether primitive prim is not drawn now (hidden, or blinking and off).
bool gone(int prim) {
  int flags = int(texelFetch(u_style, texel(2 * prim), 0).a * 255.0 + 0.5);
  return (flags & 1) == 0 || ((flags & 2) != 0 && u_phase > 0.5);
}
vec2 moved(int prim) { return texelFetch(u_offset, texel(prim), 0).xy; }
const vec4 AWAY = vec4(2.0, 2.0, 2.0, 1.0);
// The corner of a quad vertex i (0..5): two triangles.
vec2 corner(int i) {
  return vec2((i == 1 || i == 2 || i == 4) ? 1.0 : 0.0, (i == 2 || i == 4 || i == 5) ? 1.0 : 0.0);
}
`;

const SEGMENT_VS = `${HEADER}
layout(location = 0) in vec4 a_seg;
layout(location = 1) in vec2 a_wp;
flat out vec3 v_color;
void main() {
  int prim = int(a_wp.y);
  vec2 a = pixels(a_seg.xy + moved(prim)), b = pixels(a_seg.zw + moved(prim));
  vec2 d = b - a;
  float len = length(d);
  if (gone(prim) || len < 0.5) { gl_Position = AWAY; return; }
  float w = max(a_wp.x * u_view.z, 1.0);
  vec2 dir = d / len;
  vec2 n = vec2(-dir.y, dir.x);
  vec2 c = corner(gl_VertexID);
  vec2 px = mix(a - dir * w * 0.5, b + dir * w * 0.5, c.x) + n * (c.y * 2.0 - 1.0) * w * 0.5;
  v_color = texelFetch(u_style, texel(2 * prim), 0).rgb;
  gl_Position = clip(px, prim, 1.0);
}`;

const RECT_VS = `${HEADER}
layout(location = 0) in vec4 a_box;
layout(location = 1) in float a_prim;
flat out vec3 v_color;
void main() {
  int prim = int(a_prim);
  vec4 fill = texelFetch(u_style, texel(2 * prim + 1), 0);
  vec2 lo = pixels(a_box.xy + moved(prim)), hi = pixels(a_box.zw + moved(prim));
  if (gone(prim) || fill.a < 0.5 || (hi.x - lo.x < 0.5 && hi.y - lo.y < 0.5)) { gl_Position = AWAY; return; }
  v_color = fill.rgb;
  gl_Position = clip(mix(lo, hi, corner(gl_VertexID)), prim, 0.0);
}`;

const ELLIPSE_VS = `${HEADER}
layout(location = 0) in vec4 a_box;
layout(location = 1) in vec2 a_wp;
out vec2 v_px;
flat out vec2 v_radius;
flat out float v_width;
flat out vec3 v_stroke;
flat out vec4 v_fill;
void main() {
  int prim = int(a_wp.y);
  vec2 lo = pixels(a_box.xy + moved(prim)), hi = pixels(a_box.zw + moved(prim));
  if (gone(prim) || (hi.x - lo.x < 0.5 && hi.y - lo.y < 0.5)) { gl_Position = AWAY; return; }
  v_width = max(a_wp.x * u_view.z, 1.0);
  v_radius = (hi - lo) * 0.5;
  vec2 grow = vec2(v_width * 0.5 + 1.0);
  vec2 px = mix(lo - grow, hi + grow, corner(gl_VertexID));
  v_px = px - (lo + hi) * 0.5;
  v_stroke = texelFetch(u_style, texel(2 * prim), 0).rgb;
  v_fill = texelFetch(u_style, texel(2 * prim + 1), 0);
  gl_Position = clip(px, prim, 1.0);
}`;

const TRIANGLE_VS = `${HEADER}
layout(location = 0) in vec3 a_vertex;
flat out vec3 v_color;
void main() {
  int prim = int(a_vertex.z);
  vec4 fill = texelFetch(u_style, texel(2 * prim + 1), 0);
  if (gone(prim) || fill.a < 0.5) { gl_Position = AWAY; return; }
  v_color = fill.rgb;
  gl_Position = clip(pixels(a_vertex.xy + moved(prim)), prim, 0.0);
}`;

const FLAT_FS = `#version 300 es
precision mediump float;
flat in vec3 v_color;
out vec4 color;
void main() { color = vec4(v_color, 1.0); }`;

const ELLIPSE_FS = `#version 300 es
precision highp float;
in vec2 v_px;
flat in vec2 v_radius;
flat in float v_width;
flat in vec3 v_stroke;
flat in vec4 v_fill;
out vec4 color;
void main() {
  vec2 r = max(v_radius, vec2(0.5));
  float k = length(v_px / r);
  // Distance to the ellipse, in pixels (first order).
  float d = (k - 1.0) * k / max(length(v_px / (r * r)), 1e-6);
  if (abs(d) <= v_width * 0.5) color = vec4(v_stroke, 1.0);
  else if (d < 0.0 && v_fill.a > 0.5) color = vec4(v_fill.rgb, 1.0);
  else discard;
}`;

function shader(gl, type, source) {
  const s = gl.createShader(type);
  gl.shaderSource(s, source);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
  return s;
}

function program(gl, vs, fs) {
  const p = gl.createProgram();
  gl.attachShader(p, shader(gl, gl.VERTEX_SHADER, vs));
  gl.attachShader(p, shader(gl, gl.FRAGMENT_SHADER, fs));
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
  return p;
}

/** A batch: its program, vertex array, instance (or vertex) count. */
function batch(gl, prog, data, layout, instanced) {
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);
  const buffer = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
  gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
  const stride = layout.reduce((a, b) => a + b, 0);
  let offset = 0;
  layout.forEach((size, location) => {
    gl.enableVertexAttribArray(location);
    gl.vertexAttribPointer(location, size, gl.FLOAT, false, stride * 4, offset * 4);
    if (instanced) gl.vertexAttribDivisor(location, 1);
    offset += size;
  });
  gl.bindVertexArray(null);
  const loc = Object.fromEntries(
    ['u_view', 'u_size', 'u_phase', 'u_style', 'u_offset'].map((n) => [n, gl.getUniformLocation(prog, n)]),
  );
  return { prog, vao, buffer, loc, count: data.length / stride, instanced };
}

export class GlRenderer {
  /** Throws when WebGL2 is not there (the caller falls back to Canvas 2D). */
  constructor(canvas, scene) {
    const gl = canvas.getContext("webgl2", { antialias: true, alpha: false, depth: true, preserveDrawingBuffer: false });
    if (!gl) throw new Error('no WebGL2');
    this.name = 'webgl2';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    /** Whether the GPU is emulated on the CPU (SwiftShader, llvmpipe): instanced drawing is slow there. */
    this.software = /swiftshader|llvmpipe|softpipe|software/i.test(
      String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
    );
    this.gl = gl;
    this.canvas = canvas;
    this.scene = scene;
    this.rows = Math.max(1, Math.ceil((2 * scene.count) / COLS));
    this.style = new Uint8Array(COLS * this.rows * 4);
    this.offset = new Float32Array(COLS * Math.max(1, Math.ceil(scene.count / COLS)) * 2);
    this.dirtyRows = [Infinity, -Infinity];
    this.dirtyOffsets = false;
    const fs = FLAT_FS;
    this.batches = [
      batch(gl, program(gl, TRIANGLE_VS, fs), scene.triangles, [3], false),
      batch(gl, program(gl, RECT_VS, fs), scene.rects, [4, 1], true),
      batch(gl, program(gl, SEGMENT_VS, fs), scene.segments, [4, 2], true),
      batch(gl, program(gl, ELLIPSE_VS, ELLIPSE_FS), scene.ellipses, [4, 2], true),
    ];
    this.styleTexture = this.texture(gl.RGBA8, COLS, this.rows, gl.RGBA, gl.UNSIGNED_BYTE, this.style);
    this.offsetTexture = this.texture(
      gl.RG32F, COLS, this.offset.length / 2 / COLS, gl.RG, gl.FLOAT, this.offset,
    );
  }

  texture(internal, width, height, format, type, data) {
    const gl = this.gl;
    const t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texImage2D(gl.TEXTURE_2D, 0, internal, width, height, 0, format, type, data);
    return { t, width, height, format, type };
  }

  /** Takes in the look of primitives `prims` from `look` (runtime.now). */
  update(prims, look) {
    for (const p of prims) {
      const s = look.stroke[p];
      const f = look.fill[p];
      const i = 8 * p;
      this.style[i] = (s >> 16) & 255;
      this.style[i + 1] = (s >> 8) & 255;
      this.style[i + 2] = s & 255;
      this.style[i + 3] = look.visible[p] | (look.blink[p] << 1);
      this.style[i + 4] = f < 0 ? 0 : (f >> 16) & 255;
      this.style[i + 5] = f < 0 ? 0 : (f >> 8) & 255;
      this.style[i + 6] = f < 0 ? 0 : f & 255;
      this.style[i + 7] = f < 0 ? 0 : 255;
      const row = Math.floor((2 * p) / COLS);
      this.dirtyRows = [Math.min(this.dirtyRows[0], row), Math.max(this.dirtyRows[1], row)];
      if (this.offset[2 * p] !== look.dx[p] || this.offset[2 * p + 1] !== look.dy[p]) {
        this.offset[2 * p] = look.dx[p];
        this.offset[2 * p + 1] = look.dy[p];
        this.dirtyOffsets = true;
      }
    }
  }

  upload() {
    const gl = this.gl;
    const [first, last] = this.dirtyRows;
    if (first <= last) {
      gl.bindTexture(gl.TEXTURE_2D, this.styleTexture.t);
      const rows = this.style.subarray(first * COLS * 4, (last + 1) * COLS * 4);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, first, COLS, last - first + 1, gl.RGBA, gl.UNSIGNED_BYTE, rows);
      this.dirtyRows = [Infinity, -Infinity];
    }
    if (this.dirtyOffsets) {
      const o = this.offsetTexture;
      gl.bindTexture(gl.TEXTURE_2D, o.t);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, o.width, o.height, o.format, o.type, this.offset);
      this.dirtyOffsets = false;
    }
  }

  /** Draws at `view` ({x, y, scale, width, height} in px, `phase` 1 while blinkers are off). */
  draw(view) {
    const gl = this.gl;
    this.upload();
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    const bg = this.scene.background;
    gl.clearColor(((bg >> 16) & 255) / 255, ((bg >> 8) & 255) / 255, (bg & 255) / 255, 1);
    gl.clearDepth(1);
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    const ratio = this.canvas.width / view.width;
    for (const b of this.batches) {
      if (!b.count) continue;
      gl.useProgram(b.prog);
      gl.uniform4f(b.loc.u_view, view.x, view.y, view.scale * ratio, this.scene.count);
      gl.uniform2f(b.loc.u_size, this.canvas.width, this.canvas.height);
      gl.uniform1f(b.loc.u_phase, view.phase);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.styleTexture.t);
      gl.uniform1i(b.loc.u_style, 0);
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, this.offsetTexture.t);
      gl.uniform1i(b.loc.u_offset, 1);
      gl.bindVertexArray(b.vao);
      if (b.instanced) gl.drawArraysInstanced(gl.TRIANGLES, 0, 6, b.count);
      else gl.drawArrays(gl.TRIANGLES, 0, b.count);
    }
    gl.bindVertexArray(null);
  }

  /** The colour drawn at canvas pixel x,y (CSS px) as `rrggbb`, read right after drawing `view`. */
  probe(view, x, y) {
    this.draw(view);
    const gl = this.gl;
    const ratio = this.canvas.width / view.width;
    const out = new Uint8Array(4);
    gl.readPixels(Math.round(x * ratio), this.canvas.height - 1 - Math.round(y * ratio), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
    return [...out.subarray(0, 3)].map((v) => v.toString(16).padStart(2, '0')).join('');
  }

  /** Frees the GPU's memory. */
  destroy() {
    const gl = this.gl;
    for (const b of this.batches) {
      gl.deleteBuffer(b.buffer);
      gl.deleteVertexArray(b.vao);
      gl.deleteProgram(b.prog);
    }
    gl.deleteTexture(this.styleTexture.t);
    gl.deleteTexture(this.offsetTexture.t);
  }
}
