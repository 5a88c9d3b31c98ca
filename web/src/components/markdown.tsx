import { useMemo } from "react";
import { marked } from "marked";

const ALLOWED_TAGS = new Set([
  "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s",
  "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul", "input", "span", "div",
]);
const ALLOWED_ATTRS: Record<string, Set<string>> = {
  a: new Set(["href", "title"]),
  img: new Set(["src", "alt", "title"]),
  td: new Set(["align"]),
  th: new Set(["align"]),
  input: new Set(["type", "checked", "disabled"]),
  code: new Set(["class"]),
  ol: new Set(["start"]),
};
const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/?[\w-])/i;

/** Keeps only an allow-list of tags and attributes; links may not run script and open safely. */
export function sanitizeHtml(html: string): string {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  const walk = (node: Node) => {
    for (const child of [...node.childNodes]) {
      if (child.nodeType === Node.COMMENT_NODE) {
        child.remove();
        continue;
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue;
      const el = child as Element;
      const tag = el.tagName.toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) {
        if (tag === "script" || tag === "style" || tag === "iframe" || tag === "object" || tag === "template") el.remove();
        else {
          walk(el);
          el.replaceWith(...el.childNodes);
        }
        continue;
      }
      for (const attr of [...el.attributes]) {
        const ok = ALLOWED_ATTRS[tag]?.has(attr.name);
        const isUrl = attr.name === "href" || attr.name === "src";
        if (!ok || (isUrl && !SAFE_URL.test(attr.value.trim())) || (tag === "input" && attr.name === "type" && attr.value !== "checkbox")) {
          el.removeAttribute(attr.name);
        }
      }
      if (tag === "input") el.setAttribute("disabled", "");
      if (tag === "a") {
        el.setAttribute("rel", "noopener noreferrer nofollow");
        el.setAttribute("target", "_blank");
      }
      walk(el);
    }
  };
  walk(tpl.content);
  return tpl.innerHTML;
}

export function renderMarkdown(text: string): string {
  return sanitizeHtml(marked.parse(text, { async: false, gfm: true, breaks: false }) as string);
}

export function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
