// CI machines are shared and small: give asynchronous waits room so a loaded machine is slow,
// not red. A test that never gets what it waits for still fails.
import { configure } from '@testing-library/react';

configure({ asyncUtilTimeout: 30_000 });
