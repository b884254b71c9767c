"""The offline web viewer: a self-contained HTML page that plays a dance, or compares several on
one song, in 3D with the music.

`write_page(motion, "dance.html", music=..., beats=..., annotation=...)` writes it for one
motion; `write_page([a, b], "compare.html", labels=["a", "b"], music=...)` for several (or
`Dance`s, which carry their own label, texts and extra downloads). `dancegen.export.viewer_page.
write_viewer_page` adds each motion's own texts, detected beats and a .glb download.
`PageServer` / `open_in_browser` show a page. The JavaScript lives in `src/viewer.js` and is
bundled with three.js by `npm ci --prefix dancegen/viewer` (output: `build/viewer.js`).
"""

from dancegen.viewer.page import (
    BUILD_COMMAND,
    BUNDLE_PATH,
    LAYOUTS,
    Dance,
    PromptSpan,
    prompt_texts,
    write_page,
)
from dancegen.viewer.serve import PageServer, open_in_browser, serve_forever

__all__ = [
    "BUILD_COMMAND", "BUNDLE_PATH", "Dance", "LAYOUTS", "PageServer", "PromptSpan", "open_in_browser", "prompt_texts",
    "serve_forever", "write_page",
]
