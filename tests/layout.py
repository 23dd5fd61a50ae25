"""How a page sits on the screen, measured in the browser: text over pictures or over other
text, anything wider than the window, and what axe-core finds for people using assistive
technology. Helpers for tests/test_browser_layout.py."""

from __future__ import annotations

# Each text line's own box (a Range over its text node, not the element's, which spans the whole
# column) against each picture's box, inside the main area. Rules, not pixel lists:
# - Streamlit's chrome (header, toolbar, status, element toolbars, sidebar) is not the page's.
# - A picture is <img>, <canvas>, <svg>, <video>, an iframe, role="img", or a component's
#   shadow host: a component, such as the drawing canvas with its own toolbar, is one box.
# - Text inside a picture (a chart's axis, the labels of the probability bars) is the picture's.
# - What is hidden (display, visibility, opacity 0), clipped away by an ancestor's overflow, or
#   under 2 px (a screen-reader-only text) is not seen, so it overlaps nothing.
# Two boxes overlap when they share more than 2 px both ways; lines of text overlap only when
# they share more than a quarter of the shorter line's height (a glyph's box may reach into the
# next line's by a pixel or two at a tight line height).
# The scrollers a page may scroll sideways in (Streamlit scrolls its main area, not only the
# document), and whether one does: shared by LAYOUT_JS' check and FITS_WINDOW_JS' wait.
_SCROLLERS_JS = """
    const scrollers = () => [document.scrollingElement,
        document.querySelector('[data-testid="stMain"]')].filter(Boolean);
    const scrollsSideways = (scroller) => scroller.scrollWidth > scroller.clientWidth + 1;
"""

LAYOUT_JS = (
    "() => {"
    + _SCROLLERS_JS
    + """
    const CHROME = '[data-testid="stHeader"], [data-testid="stToolbar"],'
        + ' [data-testid="stDecoration"], [data-testid="stStatusWidget"],'
        + ' [data-testid="stElementToolbar"], [data-testid="stSidebar"], [data-baseweb="tooltip"]';
    const PICTURE = 'img, canvas, svg, video, iframe, [role="img"]';
    const main = document.querySelector('[data-testid="stMain"]');
    const width = window.innerWidth;
    const isPicture = (element) => element.matches(PICTURE) || element.shadowRoot !== null;
    const describe = (element) => {
        const id = element.getAttribute('data-testid');
        const text = (element.innerText || element.getAttribute('alt')
            || element.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' ');
        return element.tagName.toLowerCase() + (id ? `[${id}]` : '')
            + (text ? ` "${text.slice(0, 50)}"` : '');
    };
    const seen = (element) => element.checkVisibility({opacityProperty: true,
                                                       visibilityProperty: true});
    // The part of a box left visible by ``from`` and every ancestor of it that clips its
    // overflow (a text's own element may clip it: a screen-reader-only label does).
    const clipped = (from, box) => {
        let [left, top, right, bottom] = [box.left, box.top, box.right, box.bottom];
        for (let parent = from; parent; parent = parent.parentElement) {
            const style = getComputedStyle(parent);
            if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
                const edge = parent.getBoundingClientRect();
                if (style.overflowX !== 'visible') {
                    left = Math.max(left, edge.left); right = Math.min(right, edge.right);
                }
                if (style.overflowY !== 'visible') {
                    top = Math.max(top, edge.top); bottom = Math.min(bottom, edge.bottom);
                }
            }
        }
        return {left, top, right, bottom, width: right - left, height: bottom - top};
    };
    const big = (box) => box.width > 2 && box.height > 2;
    const pictures = [];
    const texts = [];
    const walk = (element, insidePicture) => {
        if (element.matches(CHROME) || !seen(element)) return;
        const picture = !insidePicture && isPicture(element);
        if (picture) {
            const box = clipped(element.parentElement, element.getBoundingClientRect());
            if (big(box)) pictures.push({element, box});
        }
        if (!(insidePicture || picture)) {
            for (const node of element.childNodes) {
                if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
                const range = document.createRange();
                range.selectNodeContents(node);
                for (const line of range.getClientRects()) {
                    const box = clipped(element, line);
                    if (big(box)) texts.push({element, node, box});
                }
            }
        }
        for (const child of element.children) walk(child, insidePicture || picture);
    };
    walk(main, false);
    const shared = (a, b) => ({
        width: Math.min(a.right, b.right) - Math.max(a.left, b.left),
        height: Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top),
    });
    const defects = [];
    for (const text of texts) {
        for (const picture of pictures) {
            if (picture.element.contains(text.element)) continue;
            const common = shared(text.box, picture.box);
            if (common.width > 2 && common.height > 2) {
                defects.push(`text ${describe(text.element)} over picture`
                    + ` ${describe(picture.element)} (${common.width.toFixed(0)}`
                    + `x${common.height.toFixed(0)} px)`);
            }
        }
    }
    for (let i = 0; i < texts.length; i++) {
        for (let j = i + 1; j < texts.length; j++) {
            const [a, b] = [texts[i], texts[j]];
            if (a.node === b.node) continue;
            const common = shared(a.box, b.box);
            if (common.width > 2
                && common.height > Math.min(a.box.height, b.box.height) / 4) {
                defects.push(`text ${describe(a.element)} over text ${describe(b.element)}`
                    + ` (${common.width.toFixed(0)}x${common.height.toFixed(0)} px)`);
            }
        }
    }
    // Nothing wider than the window: the page does not scroll sideways, and no element shows
    // past its right edge (a box that scrolls inside itself, like a canvas wider than a phone,
    // is clipped by its own box and passes).
    for (const scroller of scrollers()) {
        if (scrollsSideways(scroller)) {
            defects.push(`the page scrolls sideways: ${describe(scroller)} is`
                + ` ${scroller.scrollWidth} px wide in a ${scroller.clientWidth} px window`);
        }
    }
    for (const item of [...pictures, ...texts]) {
        if (item.box.right > width + 1 || item.box.left < -1) {
            defects.push(`${describe(item.element)} spans ${item.box.left.toFixed(0)}`
                + `-${item.box.right.toFixed(0)} px of a ${width} px window`);
        }
    }
    return [...new Set(defects)];
}"""
)

# Whether nothing scrolls sideways yet (the first of LAYOUT_JS' width checks), to wait on a
# resize.
FITS_WINDOW_JS = (
    "() => {"
    + _SCROLLERS_JS
    + """
    return !scrollers().some(scrollsSideways);
}"""
)

# The page's full height: Streamlit scrolls its main area, not the document, so a full-page
# screenshot needs a window that tall.
CONTENT_HEIGHT_JS = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    return Math.ceil(Math.max(main.scrollHeight, document.scrollingElement.scrollHeight));
}"""


def layout_defects(page) -> list[str]:
    """Text over a picture or over other text, and anything wider than the window, on the
    page as it is now; each a sentence naming the elements."""
    return page.evaluate(LAYOUT_JS)


def accessibility_defects(page) -> list[str]:
    """axe-core's violations of impact "serious" or "critical" on the page as it is now, one
    sentence each: the rule, its help text and the first elements it names."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}; "
        + "; ".join(
            f"{node['target']}: {node.get('failureSummary', '').splitlines()[-1].strip()}"
            for node in violation["nodes"][:3]
        )
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
