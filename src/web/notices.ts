/** The notice area under the header: one dismissable banner per failure code (a repeat replaces, never stacks). */
import type { Notice, NoticeCode } from './messages.js';

export class Notices {
  private readonly shown = new Map<NoticeCode, HTMLElement>();

  constructor(private readonly root: HTMLElement) {}

  show(n: Notice): void {
    this.clear(n.code);
    const el = document.createElement('div');
    el.className = `notice ${n.level}`;
    el.dataset.code = n.code;
    el.setAttribute('role', n.level === 'info' ? 'status' : 'alert');
    const text = document.createElement('div');
    const title = document.createElement('strong');
    title.textContent = n.title;
    const detail = document.createElement('span');
    detail.textContent = ` ${n.detail}`;
    text.append(title, detail);
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'quiet';
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '×';
    close.addEventListener('click', () => this.clear(n.code));
    el.append(text, close);
    this.root.append(el);
    this.shown.set(n.code, el);
  }

  clear(code: NoticeCode): void {
    this.shown.get(code)?.remove();
    this.shown.delete(code);
  }
}
