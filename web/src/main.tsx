import { createRoot } from "react-dom/client";
import { StrictMode } from "react";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { App } from "./app.js";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
