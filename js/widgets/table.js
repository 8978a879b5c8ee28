// The stash browser's entry table: one row per key (key, type, size, age).
// State: `columns` (header labels), `rows` (objects keyed by column), `selected` (a key).
// A click selects a row; the kernel then builds the preview. Loaded by anywidget as `_esm`.

/** @typedef {{ key: string, [column: string]: string }} Row */

/**
 * @param {{ model: import("@anywidget/types").AnyModel, el: HTMLElement }} ctx
 * @returns {() => void} cleanup
 */
export function render({ model, el }) {
  el.classList.add("persist-ext-table");
  const table = document.createElement("table");
  const thead = document.createElement("thead");
  const tbody = document.createElement("tbody");
  table.append(thead, tbody);
  el.append(table);

  function draw() {
    /** @type {string[]} */
    const columns = model.get("columns");
    /** @type {Row[]} */
    const rows = model.get("rows");
    const selected = model.get("selected");
    thead.replaceChildren();
    const hr = document.createElement("tr");
    for (const name of columns) {
      const th = document.createElement("th");
      th.textContent = name;
      hr.append(th);
    }
    thead.append(hr);
    tbody.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length;
      td.className = "persist-ext-empty";
      td.textContent = "no entries";
      tr.append(td);
      tbody.append(tr);
    }
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = row.key;
      if (row.key === selected) tr.classList.add("persist-ext-selected");
      for (const name of columns) {
        const td = document.createElement("td");
        td.textContent = row[name] ?? "";
        tr.append(td);
      }
      tbody.append(tr);
    }
  }

  /** @param {MouseEvent} event */
  function onClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const tr = target.closest("tr[data-key]");
    if (!(tr instanceof HTMLElement) || tr.dataset.key === undefined) return;
    model.set("selected", tr.dataset.key);
    model.save_changes();
  }

  tbody.addEventListener("click", onClick);
  model.on("change:rows", draw);
  model.on("change:columns", draw);
  model.on("change:selected", draw);
  draw();
  return () => {
    tbody.removeEventListener("click", onClick);
    model.off("change:rows", draw);
    model.off("change:columns", draw);
    model.off("change:selected", draw);
  };
}

export default { render };
