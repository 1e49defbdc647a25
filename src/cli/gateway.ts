import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("gateway", "Run a gateway that terminates client tunnels in a site");
