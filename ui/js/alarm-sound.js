// The alarm sound: a short beep (Web Audio: an oscillator, no audio file)
// for each newly raised critical or warning alarm while the dispatcher has
// it on. The header's 🔔/🔕 button switches it; the choice is kept in this
// browser (localStorage), on unless switched off.

import { onLanguageChange, t } from './i18n.js';

const SOUND_KEY = 'meterhub.alarm-sound';
/** Each severity's beeps: [frequency Hz, start s after the first]. */
const TONES = {
  critical: [[880, 0], [880, 0.25]],
  warning: [[660, 0]],
};
/** One beep's length, s. */
const BEEP_S = 0.18;
const VOLUME = 0.25;

function stored() {
  try {
    return localStorage.getItem(SOUND_KEY) !== 'off';
  } catch {
    return true;
  }
}

export class AlarmSound {
  /** Switched by `button`. */
  constructor(button) {
    this.button = button;
    this.on = stored();
    this.context = null;
    button.addEventListener('click', () => this.toggle());
    // A browser starts audio only after a gesture: any click or key readies it.
    const ready = () => this.ready();
    document.addEventListener('pointerdown', ready, { capture: true });
    document.addEventListener('keydown', ready, { capture: true });
    onLanguageChange(() => this.render());
    this.render();
  }

  render() {
    const title = t(this.on ? 'alarm.sound_on' : 'alarm.sound_off');
    this.button.textContent = this.on ? '🔔' : '🔕';
    this.button.title = title;
    this.button.setAttribute('aria-label', title);
    this.button.setAttribute('aria-pressed', String(this.on));
    this.button.dataset.sound = this.on ? 'on' : 'off';
  }

  toggle() {
    this.on = !this.on;
    try {
      localStorage.setItem(SOUND_KEY, this.on ? 'on' : 'off');
    } catch {
      // Storage may be off: the choice holds for this page.
    }
    this.render();
    if (this.on) this.beep('warning');
  }

  /** The audio context, made at the first need; null where the browser has none. */
  audio() {
    if (!this.context) {
      const Context = globalThis.AudioContext ?? globalThis.webkitAudioContext;
      if (!Context) return null;
      try {
        this.context = new Context();
      } catch {
        return null;
      }
    }
    return this.context;
  }

  ready() {
    if (!this.on) return;
    const context = this.audio();
    if (context?.state === 'suspended') context.resume().catch(() => {});
  }

  /** A newly raised `alarm`: a beep when the sound is on and it is critical or a warning. */
  alarm(alarm) {
    if (this.on && TONES[alarm.severity]) this.beep(alarm.severity);
  }

  beep(severity) {
    const context = this.audio();
    if (!context) return;
    if (context.state === 'suspended') context.resume().catch(() => {});
    const now = context.currentTime;
    for (const [frequency, at] of TONES[severity] ?? []) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = 'sine';
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(VOLUME, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + BEEP_S);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(now + at);
      oscillator.stop(now + at + BEEP_S + 0.02);
    }
  }
}
