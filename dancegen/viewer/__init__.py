"""The offline web viewer: a self-contained HTML page that plays a dance with its music.

`write_page(motion, "dance.html", music=..., beats=..., annotation=...)` writes it;
`PageServer` / `open_in_browser` show it. The JavaScript lives in `src/viewer.js` and is bundled
with three.js by `npm ci --prefix dancegen/viewer` (output: `build/viewer.js`).
"""

from dancegen.viewer.page import BUILD_COMMAND, BUNDLE_PATH, PromptSpan, prompt_texts, write_page
from dancegen.viewer.serve import PageServer, open_in_browser, serve_forever

__all__ = [
    "BUILD_COMMAND", "BUNDLE_PATH", "PageServer", "PromptSpan", "open_in_browser", "prompt_texts",
    "serve_forever", "write_page",
]
